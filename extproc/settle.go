package extproc

import (
	"context"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

// finish settles or releases an admitted request exactly once, however the
// stream ended: after the last reply, on Envoy's close, or when the client
// went away mid-stream (envoy-ext-proc.md E6, E12).
func (ex *exchange) finish() {
	if ex.maybeHeld && !ex.finished {
		ex.finished = true
		ex.releaseAbandoned()
		return
	}
	if !ex.admitted || ex.finished {
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

	rec := Record{Account: ex.acct.ID, RequestID: ex.id, EnvoyRequestID: ex.envoyID, Model: ex.model}
	defer func() {
		if ex.s.opts.Records != nil {
			ex.s.opts.Records(rec)
		}
	}()
	if ex.upstreamFailed && !ex.haveUsage {
		rec.Released = true
		if !ex.held {
			return
		}
		if rec.Err = ex.s.ledger.Release(ctx, ex.acct.ID, ex.id); rec.Err != nil {
			ex.s.metrics.settleErr.Inc()
			ex.logger().Error("release failed; the hold will expire and be charged at its estimate", "err", rec.Err)
		}
		return
	}
	u := ex.settledUsage()
	rec.Usage, rec.Estimated = u, !ex.haveUsage
	st, err := ex.s.ledger.Settle(ctx, ex.acct, ex.id, u)
	if err != nil {
		rec.Err = err
		ex.s.metrics.settleErr.Inc()
		ex.logger().Error("settle failed", "prompt_tokens", int64(u.Prompt), "completion_tokens", int64(u.Completion), "err", err)
		return
	}
	rec.Settlement = st
	ex.s.remember(ex.acct.ID, st.Balance.Remaining)
	counters := ex.s.metrics.modelTokens(ex.model)
	counters[0].Add(float64(u.Prompt))
	counters[1].Add(float64(u.Completion))
	if ex.haveUsage && ex.usage.Prompt > 0 {
		ex.s.metrics.estError.Observe(float64(ex.promptEstimate) / float64(ex.usage.Prompt))
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
	// a request admitted without one (ledger down, fail open) what it would
	// have held, as far as the exchange knows: the prompt estimate and the
	// default completion hold. Text that was read before the body went bad
	// counts when it is more.
	hold := quota.Usage{Prompt: ex.res.Prompt, Completion: ex.res.Completion}
	if !ex.held {
		hold = quota.Usage{Prompt: ex.promptEstimate, Completion: ex.s.completionHold(admission{choices: 1})}
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

// releaseAbandoned drops a hold that a refused request's failed ledger call
// may have made. Release is idempotent, so releasing a hold that was never
// made costs one call and nothing else.
func (ex *exchange) releaseAbandoned() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ex.ctx), ex.s.opts.SettleTimeout)
	defer cancel()
	if err := ex.s.ledger.Release(ctx, ex.acct.ID, ex.id); err != nil {
		ex.s.metrics.settleErr.Inc()
		ex.logger().Error("release of an abandoned hold failed; it will expire and be charged at its estimate", "err", err)
	}
}
