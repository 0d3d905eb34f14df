package dialog_test

import (
	"fmt"
	"strings"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

// A UAC dialog from Alice's INVITE and Bob's 200 OK through a
// record-routing proxy: the ACK and the BYE that ends the call.
func ExampleNewUAC() {
	bob, _ := sip.ParseURI("sip:bob@biloxi.example.com")
	alice, _ := sip.ParseURI("sip:alice@atlanta.example.com")

	// Alice's INVITE as sent (the transport has filled in the Via).
	inv := sip.NewRequest(sip.INVITE, bob)
	inv.SetCallID("a84b4c76e66710@pc33.atlanta.example.com")
	inv.SetFrom(sip.Address{Display: "Alice", URI: alice, Params: ";tag=1928301774"})
	inv.Set("Contact", "<sip:alice@pc33.atlanta.example.com>")
	inv.Prepend("Via", "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds")

	// Bob's 200 OK.
	ok := sip.NewResponse(inv, sip.StatusOK, "")
	ok.SetToTag("a6c85cf")
	ok.Add("Record-Route", "<sip:proxy.biloxi.example.com;lr>")
	ok.Set("Contact", "<sip:bob@192.0.2.4>")

	d, err := dialog.NewUAC(inv, ok)
	if err != nil {
		fmt.Println(err)
		return
	}
	ack, _ := d.NewAck(inv, ok)
	fmt.Println(d.State(), sip.Short(ack), ack.Header("CSeq"))

	bye, err := d.NewRequest(sip.BYE, nil, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(strings.ReplaceAll(bye.String(), "\r\n", "\n"))
	// Output:
	// confirmed ACK sip:bob@192.0.2.4 1 ACK
	// BYE sip:bob@192.0.2.4 SIP/2.0
	// Route: <sip:proxy.biloxi.example.com;lr>
	// Max-Forwards: 70
	// To: <sip:bob@biloxi.example.com>;tag=a6c85cf
	// From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774
	// Call-ID: a84b4c76e66710@pc33.atlanta.example.com
	// CSeq: 2 BYE
	// Content-Length: 0
}

// A UAS dialog: Bob rings, answers, and checks Alice's later requests.
func ExampleNewUAS() {
	inv, _ := sip.Parse([]byte("INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n" +
		"Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n" +
		"Max-Forwards: 69\r\n" +
		"To: Bob <sip:bob@biloxi.example.com>\r\n" +
		"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
		"CSeq: 314159 INVITE\r\n" +
		"Contact: <sip:alice@pc33.atlanta.example.com>\r\n" +
		"Content-Length: 0\r\n\r\n"))
	invite := inv.(*sip.Request)
	contact, _ := sip.ParseAddress("<sip:bob@192.0.2.4>")

	ringing := sip.NewResponse(invite, sip.StatusRinging, "")
	dialog.PrepareResponse(invite, ringing, "a6c85cf", contact)
	d, err := dialog.NewUAS(invite, ringing)
	if err != nil {
		fmt.Println(err)
		return
	}
	ok := d.NewResponse(invite, sip.StatusOK, "")
	fmt.Println(d.State(), ok.Header("To"), ok.Header("Record-Route"), ok.Header("Contact"))

	// Alice's INFO with a CSeq below her INVITE's is refused with 500
	// (§12.2.2).
	info, _ := sip.Parse([]byte("INFO sip:bob@192.0.2.4 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKinfo1\r\n" +
		"Max-Forwards: 70\r\n" +
		"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n" +
		"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
		"CSeq: 314158 INFO\r\n" +
		"Content-Length: 0\r\n\r\n"))
	err = d.ReceiveRequest(info.(*sip.Request))
	fmt.Println(dialog.StatusCode(err), err)
	// Output:
	// confirmed Bob <sip:bob@biloxi.example.com>;tag=a6c85cf <sip:proxy.atlanta.example.com;lr> <sip:bob@192.0.2.4>
	// 500 500 Server Internal Error: dialog: CSeq out of order
}
