package extproc

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

// finish settles or releases an admitted request exactly once, however the
// stream ended: after the last reply, on Envoy's close, or when the client
// went away mid-stream (envoy-ext-proc.md E6, E12). A refused request whose
// ledger call may have left a hold has that hold released.
func (ex *exchange) finish() {
	if ex.finished || (!ex.admitted && !ex.maybeHeld) {
		return
	}
	ex.finished = true
	start := time.Now()
	defer func() { ex.s.metrics.phase[phaseSettle].Observe(time.Since(start).Seconds()) }()
	// The stream's context is cancelled when Envoy or the client hangs up, yet
	// the reservation must be settled: keep its values, drop its
	// cancellation, bound it by its own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ex.ctx), ex.s.opts.SettleTimeout)
	defer cancel()
	if !ex.admitted {
		if err := ex.release(ctx); err != nil {
			ex.logger().Error("release of an abandoned hold failed; it will expire and be charged at its estimate", "err", err)
		}
		return
	}

	rec := Record{Account: ex.acct.ID, RequestID: ex.id, EnvoyRequestID: ex.envoyID, Model: ex.model}
	defer func() {
		if ex.s.opts.Records != nil {
			ex.s.opts.Records(rec)
		}
	}()
	if ex.upstreamFailed && !ex.haveUsage {
		rec.Released = true
		if !ex.held && !ex.maybeHeld {
			return
		}
		if rec.Err = ex.release(ctx); rec.Err != nil {
			ex.logger().Error("release failed; the hold will expire and be charged at its estimate", "err", rec.Err)
		}
		return
	}
	u := ex.settledUsage()
	rec.Usage, rec.Estimated = u, !ex.haveUsage
	var st quota.Settlement
	err := retry(ctx, func(ctx context.Context) (err error) {
		st, err = ex.s.ledger.Settle(ctx, ex.acct, ex.id, u)
		return err
	})
	if err != nil {
		rec.Err = err
		ex.s.metrics.settleErr.Inc()
		ex.logger().Error("settle failed", "prompt_tokens", int64(u.Prompt), "completion_tokens", int64(u.Completion), "err", err)
		return
	}
	rec.Settlement = st
	ex.s.hints.put(ex.acct.ID, st.Balance.Remaining)
	counters := ex.s.metrics.modelTokens(ex.model)
	counters[0].Add(float64(u.Prompt))
	counters[1].Add(float64(u.Completion))
	if ex.haveUsage && ex.usage.Prompt > 0 {
		ex.s.metrics.estError.Observe(float64(ex.promptEstimate) / float64(ex.usage.Prompt))
	}
}

// release drops the exchange's hold, one the ledger may or may not have made.
// Release is idempotent, so releasing a hold that was never made costs one
// call and nothing else.
func (ex *exchange) release(ctx context.Context) error {
	err := retry(ctx, func(ctx context.Context) error { return ex.s.ledger.Release(ctx, ex.acct.ID, ex.id) })
	if err != nil {
		ex.s.metrics.settleErr.Inc()
	}
	return err
}

// retry runs call until it succeeds or ctx ends, backing off between
// attempts. Settle and Release are idempotent per request id, so a call
// that failed after the ledger applied it is harmless to repeat, and a
// passing blip of the store does not leave a hold to be charged at expiry.
// The waits are jittered, so the requests that finished during an outage
// do not all retry in step against a store that is coming back.
func retry(ctx context.Context, call func(context.Context) error) error {
	wait := 20 * time.Millisecond
	for {
		err := call(ctx)
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// settledUsage is the usage the upstream reported, or tokengate's own count
// when it reported none (a stream cut short, a client gone): the prompt at
// its estimate, the completion counted from the text deltas seen. A body
// tokengate could not read (an unknown coding, a corrupt or bomb-sized
// coded body) is charged its hold instead. The body is over by now, so its
// decoder, if any, is ended here.
func (ex *exchange) settledUsage() quota.Usage {
	ex.stopReading()
	if ex.haveUsage {
		return quota.Usage{Prompt: quota.Tokens(ex.usage.Prompt), Completion: quota.Tokens(ex.usage.Completion)}
	}
	ex.s.metrics.estimated.Inc()
	seen := quota.Usage{Prompt: ex.promptEstimate, Completion: completionSeen(ex.deltas, ex.completion.Estimate())}
	if !ex.unreadable {
		return seen
	}
	// The completion went to the client unseen, so the charge is what the
	// request was allowed to spend, never the prompt alone: the hold, or for
	// a request admitted without one (ledger down, fail open) the hold it
	// asked for. Text that was read before the body went bad counts when it
	// is more.
	hold := quota.Usage{Prompt: ex.res.Prompt, Completion: ex.res.Completion}
	if !ex.held {
		hold = quota.Usage{Prompt: ex.asked.Prompt, Completion: ex.asked.Completion}
	}
	return quota.Usage{Prompt: max(hold.Prompt, seen.Prompt), Completion: max(hold.Completion, seen.Completion)}
}

// completionSeen counts the completion tokens of a stream from its deltas.
// OpenAI streams one token per delta, so the number of deltas is exact there;
// providers that batch several tokens into a delta give themselves away by
// carrying clearly more text per delta than one token holds, and for them
// the text estimate is used.
func completionSeen(deltas, textEstimate int64) quota.Tokens {
	if textEstimate >= 2*deltas {
		return quota.Tokens(textEstimate)
	}
	return quota.Tokens(deltas)
}
