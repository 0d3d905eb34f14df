package sip

// Status codes of RFC 3261 §21 and the common later ones.
const (
	StatusTrying                = 100
	StatusRinging               = 180
	StatusCallIsBeingForwarded  = 181
	StatusQueued                = 182
	StatusSessionProgress       = 183
	StatusEarlyDialogTerminated = 199 // RFC 6228

	StatusOK             = 200
	StatusAccepted       = 202 // RFC 3265 (deprecated by RFC 6665, still sent)
	StatusNoNotification = 204 // RFC 5839

	StatusMultipleChoices    = 300
	StatusMovedPermanently   = 301
	StatusMovedTemporarily   = 302
	StatusUseProxy           = 305
	StatusAlternativeService = 380

	StatusBadRequest                   = 400
	StatusUnauthorized                 = 401
	StatusPaymentRequired              = 402
	StatusForbidden                    = 403
	StatusNotFound                     = 404
	StatusMethodNotAllowed             = 405
	StatusNotAcceptable                = 406
	StatusProxyAuthenticationRequired  = 407
	StatusRequestTimeout               = 408
	StatusConflict                     = 409
	StatusGone                         = 410
	StatusConditionalRequestFailed     = 412 // RFC 3903
	StatusRequestEntityTooLarge        = 413
	StatusRequestURITooLong            = 414
	StatusUnsupportedMediaType         = 415
	StatusUnsupportedURIScheme         = 416
	StatusUnknownResourcePriority      = 417 // RFC 4412
	StatusBadExtension                 = 420
	StatusExtensionRequired            = 421
	StatusSessionIntervalTooSmall      = 422 // RFC 4028
	StatusIntervalTooBrief             = 423
	StatusBadLocationInformation       = 424 // RFC 6442
	StatusUseIdentityHeader            = 428 // RFC 8224
	StatusProvideReferrerIdentity      = 429 // RFC 3892
	StatusFlowFailed                   = 430 // RFC 5626
	StatusAnonymityDisallowed          = 433 // RFC 5079
	StatusBadIdentityInfo              = 436 // RFC 8224
	StatusUnsupportedCertificate       = 437 // RFC 8224
	StatusInvalidIdentityHeader        = 438 // RFC 8224
	StatusFirstHopLacksOutboundSupport = 439 // RFC 5626
	StatusMaxBreadthExceeded           = 440 // RFC 5393
	StatusBadInfoPackage               = 469 // RFC 6086
	StatusConsentNeeded                = 470 // RFC 5360
	StatusTemporarilyUnavailable       = 480
	StatusCallTransactionDoesNotExist  = 481
	StatusLoopDetected                 = 482
	StatusTooManyHops                  = 483
	StatusAddressIncomplete            = 484
	StatusAmbiguous                    = 485
	StatusBusyHere                     = 486
	StatusRequestTerminated            = 487
	StatusNotAcceptableHere            = 488
	StatusBadEvent                     = 489 // RFC 6665
	StatusRequestPending               = 491
	StatusUndecipherable               = 493
	StatusSecurityAgreementRequired    = 494 // RFC 3329

	StatusServerInternalError                 = 500
	StatusNotImplemented                      = 501
	StatusBadGateway                          = 502
	StatusServiceUnavailable                  = 503
	StatusServerTimeout                       = 504
	StatusVersionNotSupported                 = 505
	StatusMessageTooLarge                     = 513
	StatusPushNotificationServiceNotSupported = 555 // RFC 8599
	StatusPreconditionFailure                 = 580 // RFC 3312

	StatusBusyEverywhere        = 600
	StatusDecline               = 603
	StatusDoesNotExistAnywhere  = 604
	StatusNotAcceptableAnywhere = 606
	StatusUnwanted              = 607 // RFC 8197
	StatusRejected              = 608 // RFC 8688
)

// StatusText returns the default reason phrase for a status code, or "" if
// the code is unknown.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Trying"
	case 180:
		return "Ringing"
	case 181:
		return "Call Is Being Forwarded"
	case 182:
		return "Queued"
	case 183:
		return "Session Progress"
	case 199:
		return "Early Dialog Terminated"
	case 200:
		return "OK"
	case 202:
		return "Accepted"
	case 204:
		return "No Notification"
	case 300:
		return "Multiple Choices"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Moved Temporarily"
	case 305:
		return "Use Proxy"
	case 380:
		return "Alternative Service"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 402:
		return "Payment Required"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 412:
		return "Conditional Request Failed"
	case 413:
		return "Request Entity Too Large"
	case 414:
		return "Request-URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Unsupported URI Scheme"
	case 417:
		return "Unknown Resource-Priority"
	case 420:
		return "Bad Extension"
	case 421:
		return "Extension Required"
	case 422:
		return "Session Interval Too Small"
	case 423:
		return "Interval Too Brief"
	case 424:
		return "Bad Location Information"
	case 428:
		return "Use Identity Header"
	case 429:
		return "Provide Referrer Identity"
	case 430:
		return "Flow Failed"
	case 433:
		return "Anonymity Disallowed"
	case 436:
		return "Bad Identity Info"
	case 437:
		return "Unsupported Credential"
	case 438:
		return "Invalid Identity Header"
	case 439:
		return "First Hop Lacks Outbound Support"
	case 440:
		return "Max-Breadth Exceeded"
	case 469:
		return "Bad Info Package"
	case 470:
		return "Consent Needed"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 482:
		return "Loop Detected"
	case 483:
		return "Too Many Hops"
	case 484:
		return "Address Incomplete"
	case 485:
		return "Ambiguous"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 489:
		return "Bad Event"
	case 491:
		return "Request Pending"
	case 493:
		return "Undecipherable"
	case 494:
		return "Security Agreement Required"
	case 500:
		return "Server Internal Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Server Time-out"
	case 505:
		return "Version Not Supported"
	case 513:
		return "Message Too Large"
	case 555:
		return "Push Notification Service Not Supported"
	case 580:
		return "Precondition Failure"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	case 604:
		return "Does Not Exist Anywhere"
	case 606:
		return "Not Acceptable"
	case 607:
		return "Unwanted"
	case 608:
		return "Rejected"
	}
	return ""
}

// StatusClass returns the class of a status code: 1 for provisional, 2 for
// success, up to 6 for global failure (RFC 3261 §7.2).
func StatusClass(code int) int { return code / 100 }
