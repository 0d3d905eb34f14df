package transaction_test

// icmpErrorsRead: the transport reads ICMP errors on this system.
const icmpErrorsRead = true
