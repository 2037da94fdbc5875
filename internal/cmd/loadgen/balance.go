package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"
)

// balance is the part of GET /api/v1/accounts/{email}/balance the check reads.
type balance struct {
	Used     int64 `json:"used"`
	Reserved int64 `json:"reserved"`
}

// balanceCheck is the settlement check's outcome.
type balanceCheck struct {
	skipped    string // why nothing was checked; empty when checked
	accounts   int
	mismatches []string // one line each, stable order
}

// readBalance reads one account; an account tokengate has not seen yet is
// all zero (404).
func readBalance(ctx context.Context, hc *http.Client, admin, email string) (balance, error) {
	u := "http://" + admin + "/api/v1/accounts/" + url.PathEscape(email) + "/balance"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return balance{}, fmt.Errorf("loadgen: balance %s: %w", email, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return balance{}, fmt.Errorf("loadgen: balance %s: %w", email, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return balance{}, nil
	default:
		return balance{}, fmt.Errorf("loadgen: balance %s: %s", email, resp.Status)
	}
	var b balance
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		return balance{}, fmt.Errorf("loadgen: balance %s: %w", email, err)
	}
	return b, nil
}

func readBalances(ctx context.Context, hc *http.Client, admin string, emails []string) (map[string]balance, error) {
	out := make(map[string]balance, len(emails))
	for _, e := range emails {
		b, err := readBalance(ctx, hc, admin, e)
		if err != nil {
			return nil, err
		}
		out[e] = b
	}
	return out, nil
}

// checkBalances verifies, once every request completed, that each account
// holds no reservation and that its usage grew by exactly what the upstream
// reported for its requests. Requests cut short are settled from
// tokengate's own estimate, so with any of them there is nothing exact to
// compare.
func checkBalances(ctx context.Context, hc *http.Client, admin string, rep *report, before map[string]balance) *balanceCheck {
	if planned := rep.cfg.planned(); rep.completed != planned {
		return &balanceCheck{skipped: fmt.Sprintf("%d of %d requests did not complete", planned-rep.completed, planned)}
	}
	want := map[string]int64{}
	for e := range before {
		want[e] = 0
	}
	for e, n := range rep.reported {
		want[e] += n
	}
	emails := make([]string, 0, len(want))
	for e := range want {
		emails = append(emails, e)
	}
	sort.Strings(emails)

	// Settlement runs after the exchange's last reply, so it may still be
	// under way: wait until no account holds a reservation, or give up.
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	var after map[string]balance
	for {
		var err error
		after, err = readBalances(ctx, hc, admin, emails)
		if err != nil {
			return &balanceCheck{skipped: err.Error()}
		}
		if !anyReserved(after) || waitUntil(ctx, time.Now().Add(pollEvery)) != nil {
			break
		}
	}
	c := &balanceCheck{accounts: len(emails)}
	for _, e := range emails {
		a, b := after[e], before[e]
		if got := a.Used - b.Used; got != want[e] || a.Reserved != 0 {
			c.mismatches = append(c.mismatches, fmt.Sprintf("account=%s used_delta=%d want=%d reserved=%d", e, got, want[e], a.Reserved))
		}
	}
	return c
}

func anyReserved(m map[string]balance) bool {
	for _, b := range m {
		if b.Reserved != 0 {
			return true
		}
	}
	return false
}
