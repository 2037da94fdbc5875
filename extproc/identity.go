package extproc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/iasolaris/tokengate/quota"
)

var (
	// ErrNoIdentity means the request names nobody to charge; the caller gets 401.
	ErrNoIdentity = errors.New("no identity")
	// ErrBadIdentity means the request names someone in a malformed way; 401.
	ErrBadIdentity = errors.New("malformed identity")
	// ErrInactive means the account may not spend tokens (suspended, blocked); 403.
	ErrInactive = errors.New("account inactive")
)

// Identity decides who pays for a request from its headers. It runs in the
// request-headers phase, so an implementation that consults a store must
// answer from a cache or within the phase deadline it is given in ctx.
type Identity interface {
	Identify(ctx context.Context, h Headers) (quota.Account, error)
}

// UserHeader charges the person named by one request header (LibreChat fills
// x-user-email with {{LIBRECHAT_USER_EMAIL}}), creating the account on first
// sight with the default limits. It trusts the header as given: deploy it only
// where Envoy sets or strips that header before tokengate sees it.
type UserHeader struct {
	// Header is the lower-case header name, e.g. "x-user-email".
	Header string
	// Allowance and RPM are the limits of every account it names.
	Allowance quota.Tokens
	RPM       int
}

// maxIdentityLen bounds the header value: an e-mail address is at most 254
// bytes (RFC 5321), and anything longer is not a person but an attack on the
// key space.
const maxIdentityLen = 254

// Identify implements [Identity.Identify].
func (u UserHeader) Identify(_ context.Context, h Headers) (quota.Account, error) {
	// Envoy's request_headers_to_add appends by default, so a value the
	// client forged would come first and win: two values name nobody.
	if h.count(u.Header) > 1 {
		return quota.Account{}, fmt.Errorf("%w: header %s appears more than once", ErrBadIdentity, u.Header)
	}
	v, ok := h.Get(u.Header)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return quota.Account{}, fmt.Errorf("%w: header %s is missing", ErrNoIdentity, u.Header)
	}
	if err := validIdentity(v); err != nil {
		return quota.Account{}, fmt.Errorf("%w: header %s %v", ErrBadIdentity, u.Header, err)
	}
	// E-mail addresses are matched case-insensitively in practice, and one
	// person must not get two allowances by changing case.
	return quota.Account{ID: quota.AccountID(strings.ToLower(v)), Allowance: u.Allowance, RPM: u.RPM}, nil
}

// validIdentity accepts printable ASCII without spaces: enough for e-mail
// addresses and app names, and nothing that could confuse a log line or a
// storage key.
func validIdentity(v string) error {
	if len(v) > maxIdentityLen {
		return fmt.Errorf("is longer than %d bytes", maxIdentityLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("has a character outside printable ASCII at byte %d", i)
		}
	}
	return nil
}
