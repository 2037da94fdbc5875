package extproc

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/iasolaris/tokengate/quota"
)

// refusalError renders a ledger refusal. Quota exhaustion carries
// x-should-retry: false, which OpenAI SDKs obey, so a client does not hammer
// the gateway (and the upstream never sees the request at all); rate limits
// carry retry-after so the same SDKs back off for just long enough.
func refusalError(r *quota.Refusal, rpm int) callerError {
	if errors.Is(r, quota.ErrRateLimited) {
		secs := max(1, int64(math.Ceil(r.RetryAfter.Seconds())))
		return callerError{
			status:  429,
			message: fmt.Sprintf("Rate limit reached: %d requests per minute. Retry in %d s.", rpm, secs),
			typ:     "requests",
			code:    "rate_limit_exceeded",
			details: "tokengate_rate_limited",
			headers: []*corev3.HeaderValueOption{
				setHeader("retry-after", itoa(secs)),
				setHeader("x-ratelimit-limit-requests", strconv.Itoa(rpm)),
				setHeader("x-ratelimit-remaining-requests", "0"),
				setHeader("x-ratelimit-reset-requests", itoa(secs)+"s"),
			},
		}
	}
	end := r.Balance.Period.End.UTC().Format(time.RFC3339)
	return callerError{
		status: 429,
		message: fmt.Sprintf("You have used your token quota for this period: %d tokens remaining, renewed at %s.",
			r.Balance.Remaining, end),
		typ:     "insufficient_quota",
		code:    "insufficient_quota",
		details: "tokengate_quota_exhausted",
		headers: []*corev3.HeaderValueOption{
			setHeader("x-should-retry", "false"),
			setHeader("x-tokengate-remaining-tokens", itoa(int64(r.Balance.Remaining))),
			setHeader("x-tokengate-period-end", end),
		},
	}
}
