package redisledger

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// endpointShape is what a parsed URL amounts to, compared as one value.
type endpointShape struct {
	cluster            bool
	network            string // single only
	addrs              string // comma-separated
	username, password string
	db                 int
	tls                string // ServerName, or "" without TLS
	poolSize           int
	dialTimeout        time.Duration
}

func shapeOf(e Endpoint) endpointShape {
	if e.Cluster != nil {
		o := e.Cluster
		s := endpointShape{cluster: true, addrs: strings.Join(o.Addrs, ","), username: o.Username, password: o.Password, poolSize: o.PoolSize, dialTimeout: o.DialTimeout}
		if o.TLSConfig != nil {
			s.tls = o.TLSConfig.ServerName
		}
		return s
	}
	o := e.Single
	s := endpointShape{network: o.Network, addrs: o.Addr, username: o.Username, password: o.Password, db: o.DB, poolSize: o.PoolSize, dialTimeout: o.DialTimeout}
	if o.TLSConfig != nil {
		s.tls = o.TLSConfig.ServerName
	}
	return s
}

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want endpointShape
	}{
		{"redis://127.0.0.1:6379/0", endpointShape{network: "tcp", addrs: "127.0.0.1:6379"}},
		{"redis://redis", endpointShape{network: "tcp", addrs: "redis:6379"}},
		{"  redis://:s3cret@redis:6380/2?dial_timeout=2s\n", endpointShape{network: "tcp", addrs: "redis:6380", password: "s3cret", db: 2, dialTimeout: 2 * time.Second}},
		{"rediss://tokengate:pw@cache.example.com:6380", endpointShape{network: "tcp", addrs: "cache.example.com:6380", username: "tokengate", password: "pw", tls: "cache.example.com"}},
		{"unix:///run/redis/redis.sock?db=1", endpointShape{network: "unix", addrs: "/run/redis/redis.sock", db: 1}},
		{"redis+cluster://10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002",
			endpointShape{cluster: true, addrs: "10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002"}},
		{"redis+cluster://node-a,node-b/", endpointShape{cluster: true, addrs: "node-a:6379,node-b:6379"}},
		{"redis+cluster://[::1]:7000,[fe80::1]:7001/0", endpointShape{cluster: true, addrs: "[::1]:7000,[fe80::1]:7001"}},
		// A comma and an '@' in the password, percent-encoded or not.
		{"rediss+cluster://default:p%40ss,word@clustercfg.example.com:6379,node-b.example.com:6379/?pool_size=20",
			endpointShape{cluster: true, addrs: "clustercfg.example.com:6379,node-b.example.com:6379", username: "default", password: "p@ss,word", tls: "clustercfg.example.com", poolSize: 20}},
		{"redis+cluster://u:a@b@10.0.0.1:7000", endpointShape{cluster: true, addrs: "10.0.0.1:7000", username: "u", password: "a@b"}},
		{"redis://10.0.0.1:7000,redis://10.0.0.2:7001", endpointShape{cluster: true, addrs: "10.0.0.1:7000,10.0.0.2:7001"}},
		{"redis://u:pw@10.0.0.1:7000/?dial_timeout=1s, redis://u:pw@10.0.0.2:7001/0",
			endpointShape{cluster: true, addrs: "10.0.0.1:7000,10.0.0.2:7001", username: "u", password: "pw", dialTimeout: time.Second}},
		{"redis://:a,b@10.0.0.1:7000,redis://:a,b@10.0.0.2:7001", endpointShape{cluster: true, addrs: "10.0.0.1:7000,10.0.0.2:7001", password: "a,b"}},
	} {
		t.Run(c.raw, func(t *testing.T) {
			e, err := ParseURL(c.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := shapeOf(e); got != c.want {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
			if (e.Single != nil && !e.Single.ContextTimeoutEnabled) || (e.Cluster != nil && !e.Cluster.ContextTimeoutEnabled) {
				t.Fatal("ContextTimeoutEnabled is off: ledger calls would outlive their deadline")
			}
		})
	}
}

func TestParseURLRefuses(t *testing.T) {
	const password = "hunter22"
	for _, c := range []struct{ raw, want string }{
		{"", "want redis://"},
		{"127.0.0.1:6379", "want redis://"},
		{"http://redis:6379", "unknown scheme"},
		{"redis://a:1,b:2", "one server per redis:// URL"},
		{"redis://h:99999", "want 1 to 65535"},
		{"redis+cluster://a:1,,b:2", "cluster seed 2: empty address"},
		{"redis+cluster://a:1,b:0", "cluster seed 2: bad port"},
		{"redis+cluster://a:1/3", "only database 0"},
		{"redis+cluster://a:1?bogus=1", "unexpected option: bogus"},
		{"redis+cluster://a b:1", "cluster seed 1: bad address"},
		{"redis://a:1,unix:///tmp/redis.sock", "cluster seed 2: a cluster seed is redis:// or rediss://"},
		{"redis://a:1,rediss://b:2", "cluster seed 2: every seed needs the first one's scheme"},
		{"redis://u:" + password + "@a:1,redis://u:other@b:2", "every seed needs the first one's scheme and credentials"},
		{"redis://a:1/1,redis://b:2", "cluster seed 1: a cluster has only database 0"},
		{"redis://a:1,redis://b:2/?pool_size=3", "cluster seed 2: put options on the first seed only"},
		{"redis://a:1/?db=2,redis://b:2", "unexpected option: db"},
		// Malformed URLs must not echo the password net/url choked on.
		{"redis://u:" + password + "/x@a:1", "malformed URL"},
		{"redis+cluster://u:" + password + "/x@a:1", "only database 0"},
		{"redis+cluster://u:" + password + "?x@a:1", "cluster seed 1: bad port"},
		{"redis://u:" + password + "@[::1", "malformed URL"},
		{"redis://u:" + password + "@a:1/?pool_size=%zz", "malformed URL"},
		{"rediss+cluster://u:" + password + "@a:1/?pool_size=%zz", "malformed URL"},
		// go-redis's own errors quote the path, option values and
		// addresses, which an unescaped '/', '?' or '@' in the password
		// turns into pieces of it.
		{"redis://user:pa@ss/" + password + "@redis.internal:6379", "invalid database number"},
		{"redis://a:1/2/" + password, "invalid URL path"},
		{"redis://a:1/?db=" + password, "invalid database number"},
		{"redis://a:1/?pool_size=" + password, "invalid pool_size value: want a number"},
		{"redis://a:1/?dial_timeout=" + password, "invalid dial_timeout value: want a duration"},
		{"redis://a:1/?pool_fifo=" + password, "invalid pool_fifo value: want a boolean"},
		{"redis+cluster://a:1/?read_timeout=" + password, "invalid read_timeout value: want a duration"},
		{"redis+cluster://a:1/?addr=" + password, "invalid addr option: want host:port"},
		{"redis://u@h:1?" + password + "@a:1", "unexpected option (percent-encode"},
		{"redis://u@h:1?x=" + password + "@a:1", "unexpected option (percent-encode"},
		{"redis://a:1/?" + password + "%21=1", "unexpected option"},
	} {
		t.Run(c.raw, func(t *testing.T) {
			e, err := ParseURL(c.raw)
			if err == nil {
				t.Fatalf("accepted as %+v", shapeOf(e))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to say %q", err, c.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("error %q repeats the password", err)
			}
		})
	}
}

// FuzzParseURL checks what any accepted URL yields, and that no error
// repeats the password of a URL whose userinfo holds one, nor the value of
// any option.
func FuzzParseURL(f *testing.F) {
	f.Add(uint8(0), "h4nter2pw", "@10.0.0.1:7000,10.0.0.2:7001/?pool_size=3")
	f.Add(uint8(1), "h4nter2pw", "@redis:6380/2?dial_timeout=2s")
	f.Add(uint8(2), "h4nter2pw", "@[::1]:7000,redis://u:x@b:1")
	f.Add(uint8(3), "h4nter2pw", "/x@a:1")
	f.Add(uint8(4), "h4nter2pw", "@/run/redis.sock?db=1")
	f.Add(uint8(1), "pa@ss/h4nter2pw", "@redis.internal:6379")
	f.Add(uint8(1), "h4nter2pw", "@a:1/?pool_size=s3cretvalue")
	f.Add(uint8(0), "h4nter2pw", "@a:1/?addr=s3cretvalue")
	schemes := []string{"redis+cluster", "redis", "rediss", "rediss+cluster", "unix", "http"}
	f.Fuzz(func(t *testing.T, scheme uint8, password, rest string) {
		raw := schemes[int(scheme)%len(schemes)] + "://user:" + password + rest
		e, err := ParseURL(raw)
		if err != nil {
			if len(password) >= 4 && !strings.Contains(rest, password) && !strings.Contains(errTemplates, password) &&
				strings.Contains(err.Error(), password) {
				t.Fatalf("ParseURL(%q) error %q repeats the password", raw, err)
			}
			if v, ok := repeatedValue(raw, err.Error()); ok {
				t.Fatalf("ParseURL(%q) error %q repeats the option value %q", raw, err, v)
			}
			return
		}
		if (e.Single == nil) == (e.Cluster == nil) {
			t.Fatalf("ParseURL(%q) = %+v: want exactly one of Single and Cluster", raw, e)
		}
		var addrs []string
		switch {
		case e.Cluster != nil:
			if !e.Cluster.ContextTimeoutEnabled {
				t.Fatalf("ParseURL(%q): cluster without ContextTimeoutEnabled", raw)
			}
			addrs = e.Cluster.Addrs
		case !e.Single.ContextTimeoutEnabled:
			t.Fatalf("ParseURL(%q): client without ContextTimeoutEnabled", raw)
		case e.Single.Network == "tcp":
			addrs = []string{e.Single.Addr}
		}
		for _, a := range addrs {
			host, port, err := net.SplitHostPort(a)
			n, perr := strconv.Atoi(port)
			if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				t.Fatalf("ParseURL(%q) dials %q, not host:port", raw, a)
			}
		}
	})
}

// repeatedValue reports a value of length four or more, of any option in
// raw, that msg repeats. A value that is also written elsewhere in raw, as
// a key, in the password or before the query, or that is a fixed word of
// some message, is not held against msg.
func repeatedValue(raw, msg string) (string, bool) {
	head, query, ok := strings.Cut(raw, "?")
	if !ok {
		return "", false
	}
	var keys, values []string
	for pair := range strings.SplitSeq(query, "&") {
		k, v, _ := strings.Cut(pair, "=")
		keys = append(keys, k)
		values = append(values, v)
	}
	for _, v := range values {
		if len(v) < 4 || !strings.Contains(msg, v) || strings.Contains(head, v) || strings.Contains(errTemplates, v) {
			continue
		}
		if slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, v) }) {
			continue
		}
		return v, true
	}
	return "", false
}

// errTemplates is every fixed word an error may say, so the fuzz target
// does not take a password spelled like one for a leak.
const errTemplates = "redisledger: redis url: want redis://, rediss://, unix://, redis+cluster:// or rediss+cluster:// " +
	"unknown scheme: want redis, rediss, unix, redis+cluster or rediss+cluster " +
	"one server per redis:// URL; list a cluster as redis+cluster://host:port,host:port " +
	"a cluster has only database 0: drop the path cluster seed every seed needs the first one's scheme and credentials " +
	"put options on the first seed only not a host URL empty address: want host:port bad address bad port: want 1 to 65535 " +
	"malformed URL (percent-encode special characters in the user name and password)" +
	"invalid database number invalid URL path: want /<database number> empty unix socket path invalid addr option: want host:port " +
	"unexpected option (percent-encode special characters in the user name and password) invalid URL " +
	"value: want a number duration boolean"
