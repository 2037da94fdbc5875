package extproc

import "github.com/iasolaris/tokengate/quota"

// Record is one finished metered request: what it cost and how the ledger
// took it. The usage writer persists these; tests wait on them.
type Record struct {
	Account   quota.AccountID
	RequestID quota.RequestID
	// EnvoyRequestID is the request's x-request-id, empty if it had none.
	EnvoyRequestID string
	Model          string
	Usage          quota.Usage
	// Estimated means the upstream reported no usage (a stream cut short, a
	// client gone) and Usage is tokengate's own count.
	Estimated bool
	// Released means the upstream failed and the hold was dropped unpaid.
	Released bool
	// Settlement is the ledger's answer; zero when Released or when Err is set.
	Settlement quota.Settlement
	// Err is set when the ledger did not take the settlement or release.
	Err error
}
