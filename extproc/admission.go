package extproc

import (
	"math"

	"github.com/iasolaris/tokengate/extproc/openai"
	"github.com/iasolaris/tokengate/extproc/tokens"
	"github.com/iasolaris/tokengate/quota"
)

// admission is what the request phase asks of the ledger, and how sure it is
// of the prompt's size.
type admission struct {
	hold quota.Hold
	// estimate is the best prompt figure known: the exact count when precise,
	// else the calibrated estimate. It is what an unreported prompt is charged.
	estimate quota.Tokens
	// precise means hold.Prompt is the exact (or, for models without a known
	// encoding, the calibrated) count rather than the cheap upper bound.
	precise bool
	// choices is the request's n: each choice may spend the per-choice cap.
	choices quota.Tokens
	// requestedCap is the client's own per-choice completion cap, 0 if none:
	// the smaller of max_tokens and max_completion_tokens when both are set.
	requestedCap quota.Tokens
	// largestCap is the larger of the two when both are set. Providers
	// behind LiteLLM honour one or the other, so hard enforcement must
	// bring every cap present within the hold, not only the smaller. A cap
	// present at 0 or below counts as unbounded: what a provider does with
	// it is not the hold's business, so it is rewritten too.
	largestCap int64
	// heldCap is the per-choice cap hard enforcement holds and writes: the
	// client's cap or the configured default, within the model's ceiling.
	heldCap quota.Tokens
}

// maxExactBody is the largest request body whose prompt is counted exactly.
const maxExactBody = 16 << 10

// Chat framing that is not in the message text: OpenAI renders each message
// as <|start|>role<|message|>content<|end|> (about 4 tokens beyond the
// content) and primes the reply with 3 more.
const (
	tokensPerMessage = 4
	tokensReplyPrime = 3
)

// plan sizes the hold for a chat request. Most callers are far from their
// limit, and for them the decision is the same whatever the prompt's exact
// size: they get the cheap upper bound (one pass over the bytes, already made
// by the parser). Only a caller whose last known balance is close to what the
// request could cost pays for the exact count up front.
func (s *Server) plan(acct quota.AccountID, chat *openai.Chat, body []byte) admission {
	framing := quota.Tokens(chat.Messages*tokensPerMessage + tokensReplyPrime)
	unreadBound, unreadEstimate := s.unread(chat)
	a := admission{
		choices:      quota.Tokens(max(1, chat.N)),
		requestedCap: requestedCap(chat),
		largestCap:   largestCap(chat),
		estimate:     quota.Tokens(chat.Prompt.Estimate()) + framing + unreadEstimate,
	}
	if s.opts.Enforcement == Hard {
		a.heldCap = s.heldCap(chat.Model, a.requestedCap)
	}
	a.hold = quota.Hold{
		Prompt:            quota.Tokens(chat.Prompt.Bound()) + framing + unreadBound,
		Completion:        s.completionHold(a),
		RequireCompletion: s.opts.Enforcement == Hard,
	}
	if left, ok := s.hints.get(acct); ok && left < 2*(a.hold.Prompt+a.hold.Completion) {
		return s.refine(a, chat, body)
	}
	return a
}

// refine replaces the bound with the exact count where the model's encoding
// is known, or, in soft enforcement, with the calibrated estimate where it is
// not. Hard enforcement promises that a request cannot spend more than is
// left, so its hold comes down only to figures that are upper bounds: the
// exact count of the text plus the bound of what the BPE does not see. It
// costs a real BPE pass (hundreds of microseconds for a few KB), so it runs
// only where it can change the decision.
func (s *Server) refine(a admission, chat *openai.Chat, body []byte) admission {
	a.precise = true
	// The BPE sees only the text: media, files and opaque parts keep their
	// figures.
	unreadBound, framing := s.unread(chat)
	// A vocabulary costs megabytes of memory and milliseconds to build, so
	// it is built only once some caller comes near its limit, in the
	// background: building it inside Envoy's message timeout would fail the
	// request, and the calibrated estimate serves until it is ready.
	// Bodies past maxExactBody are estimated too: the tokenizer's cost grows
	// quadratically on some whitespace, and a caller near its limit must not
	// be able to buy seconds of CPU with a crafted prompt.
	enc, ok := tokens.ForModel(chat.Model)
	if ok && !enc.Ready() {
		s.warm(enc)
	}
	if ok && enc.Ready() && len(body) <= maxExactBody {
		if msgs, tools, err := openai.ExactMessages(body); err == nil {
			text := quota.Tokens(enc.ChatPrompt(msgs, tools))
			a.estimate = text + framing
			if s.opts.Enforcement == Hard {
				a.hold.Prompt = min(a.hold.Prompt, text+unreadBound)
			}
		}
	}
	if s.opts.Enforcement != Hard {
		a.hold.Prompt = min(a.hold.Prompt, a.estimate)
	}
	return a
}

// unread is what the parts tokengate prices without tokenising add to the
// prompt, as a bound and as an estimate: images and audio at ImageTokens,
// uploaded files at FileTokens, the rest by their bytes (openai.Opaque).
func (s *Server) unread(chat *openai.Chat) (bound, estimate quota.Tokens) {
	counted := quota.Tokens(chat.Images)*s.opts.ImageTokens + quota.Tokens(chat.Files)*s.opts.FileTokens
	return counted + quota.Tokens(chat.Opaque.Bound()), counted + quota.Tokens(chat.Opaque.Estimate())
}

// completionHold is what is held for the completion beyond the prompt. Soft
// enforcement holds a small allowance (the request may run past it; the
// overspend is measured at settlement); hard enforcement holds the whole
// per-choice cap (the request's own, or the configured default when it sets
// none, but never more than the model can write) for every choice, which the
// ledger may lower to what is left.
func (s *Server) completionHold(a admission) quota.Tokens {
	if s.opts.Enforcement == Hard {
		return a.heldCap * a.choices
	}
	c := s.opts.CompletionAllowance
	if a.requestedCap > 0 {
		c = min(c, a.requestedCap*a.choices)
	}
	return c
}

// heldCap is the per-choice completion cap hard enforcement holds for.
func (s *Server) heldCap(model string, requested quota.Tokens) quota.Tokens {
	c := requested
	if c == 0 {
		c = s.opts.DefaultCompletionCap
	}
	if ceil, ok := s.opts.Ceilings.Lookup(model); ok {
		c = min(c, quota.Tokens(ceil))
	}
	return c
}

// completionCap is the per-choice cap to write into the request under hard
// enforcement, given what the ledger granted: the grant per choice, or the
// client's own smaller cap when that is lower; 0 when every cap the request
// carries already fits. Apply writes it into every cap field present, so a
// request carrying max_tokens 10 and max_completion_tokens 64000 goes out
// with 10 in both. With n choices one token each is the floor, so n−1 tokens
// of overspend are possible in the most extreme case.
func (a admission) completionCap(granted quota.Tokens) int64 {
	want := int64(max(1, granted/a.choices))
	if a.requestedCap > 0 {
		want = min(want, int64(a.requestedCap))
	}
	if a.requestedCap > 0 && a.largestCap <= want {
		return 0
	}
	return want
}

// maxCap bounds a client's completion cap: no model writes a billion tokens,
// and a cap times n must not overflow.
const maxCap = 1 << 30

// largestCap is the larger of the request's caps, or the largest int64 when
// one is present at 0 or below.
func largestCap(chat *openai.Chat) int64 {
	c := int64(0)
	for _, v := range []openai.Cap{chat.MaxCompletionTokens, chat.MaxTokens} {
		switch {
		case v.Set && v.Value <= 0:
			return math.MaxInt64
		case v.Set:
			c = max(c, v.Value)
		}
	}
	return c
}

// requestedCap is the client's per-choice completion cap. OpenAI prefers
// max_completion_tokens and deprecates max_tokens; when both are set the
// smaller binds.
func requestedCap(chat *openai.Chat) quota.Tokens {
	c := quota.Tokens(0)
	for _, v := range []openai.Cap{chat.MaxCompletionTokens, chat.MaxTokens} {
		if v.Set && v.Value > 0 && (c == 0 || quota.Tokens(v.Value) < c) {
			c = quota.Tokens(v.Value)
		}
	}
	return min(c, maxCap)
}
