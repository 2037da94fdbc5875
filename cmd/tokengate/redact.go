package main

import "strings"

// redactURL hides the passwords of a store URL so it can be logged. It reads
// every form redis.url takes, a Redis Cluster's seed list included
// (redis+cluster://user:pw@h1:6379,h2:6379 or redis://…,redis://…), which
// net/url cannot parse, so it works on the text: in each authority, what
// follows the user name up to the '@' is replaced.
func redactURL(raw string) string {
	var b strings.Builder
	for rest := raw; ; {
		i := strings.Index(rest, "://")
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i+3])
		rest = rest[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		// A seed list's next URL starts inside this authority.
		if next := strings.Index(rest[:end], ","); next >= 0 && strings.Contains(rest[next:], "://") {
			end = next
		}
		authority := rest[:end]
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			user, _, hasPassword := strings.Cut(authority[:at], ":")
			b.WriteString(user)
			if hasPassword {
				b.WriteString(":xxxxx")
			}
			b.WriteString(authority[at:])
		} else {
			b.WriteString(authority)
		}
		rest = rest[end:]
	}
}
