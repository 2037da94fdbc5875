package redisledger

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Endpoint is where redis.url points: one Redis server, or a Redis Cluster
// reached through seed nodes. Exactly one of Single and Cluster is set.
// It is not a redis.UniversalOptions because those cannot name a Unix
// socket.
type Endpoint struct {
	Single  *redis.Options
	Cluster *redis.ClusterOptions
}

// ParseURL reads redis.url. It accepts one server as
//
//	redis://[user:password@]host[:port][/db][?option=value...]
//	rediss://...                       the same over TLS
//	unix://[user:password@]/path/to/redis.sock[?db=N...]
//
// and a Redis Cluster as a list of seed nodes, either in one URL or one URL
// per seed:
//
//	redis+cluster://[user:password@]host:port,host:port[/][?option=value...]
//	rediss+cluster://...               the same over TLS
//	redis://host:port,redis://host:port
//
// Options are go-redis's (dial_timeout, pool_size, ...); a cluster has only
// database 0. Whatever the URL says, the client honours context deadlines
// (ContextTimeoutEnabled): every ledger call carries one below Envoy's
// message timeout, and go-redis would otherwise wait its own read timeout.
// Errors never repeat the URL, which may hold a password.
func ParseURL(raw string) (Endpoint, error) {
	e, err := parseURL(strings.TrimSpace(raw))
	if err != nil {
		return Endpoint{}, fmt.Errorf("redisledger: redis url: %w", err)
	}
	if e.Single != nil {
		e.Single.ContextTimeoutEnabled = true
	} else {
		e.Cluster.ContextTimeoutEnabled = true
	}
	return e, nil
}

// NewClient returns a client for e: a *redis.Client or a
// *redis.ClusterClient. It does no I/O.
func (e Endpoint) NewClient() redis.UniversalClient {
	if e.Cluster != nil {
		return redis.NewClusterClient(e.Cluster)
	}
	return redis.NewClient(e.Single)
}

// NewClient parses raw as ParseURL does and returns a client for it. It
// does no I/O.
func NewClient(raw string) (redis.UniversalClient, error) {
	e, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return e.NewClient(), nil
}

func parseURL(raw string) (Endpoint, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Endpoint{}, errors.New("want redis://, rediss://, unix://, redis+cluster:// or rediss+cluster://")
	}
	switch scheme {
	case "redis+cluster", "rediss+cluster":
		return parseClusterURL(strings.TrimSuffix(scheme, "+cluster"), rest)
	case "redis", "rediss", "unix":
	default:
		return Endpoint{}, errors.New("unknown scheme: want redis, rediss, unix, redis+cluster or rediss+cluster")
	}
	seeds := splitURLs(raw)
	if len(seeds) > 1 {
		return parseSeedURLs(seeds)
	}
	if u, err := url.Parse(raw); err == nil {
		// go-redis would take "redis://a:1,b:2" for the one address
		// "[a:1,b]:2", and silently drop an option it cannot decode.
		if strings.Contains(u.Host, ",") {
			return Endpoint{}, errors.New("one server per redis:// URL; list a cluster as redis+cluster://host:port,host:port")
		}
		if _, err := url.ParseQuery(u.RawQuery); err != nil {
			return Endpoint{}, errMalformed
		}
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		_, query, _ := strings.Cut(raw, "?")
		return Endpoint{}, quiet(err, query)
	}
	if o.Network == "tcp" {
		if _, err := checkAddr(o.Addr); err != nil {
			return Endpoint{}, err
		}
	}
	return Endpoint{Single: o}, nil
}

// splitURLs cuts a comma-separated list of URLs where a piece starts a new
// scheme, so a comma inside a password or an option stays where it was.
func splitURLs(raw string) []string {
	var urls []string
	for piece := range strings.SplitSeq(raw, ",") {
		trimmed := strings.TrimSpace(piece)
		if len(urls) == 0 || strings.HasPrefix(trimmed, "redis://") || strings.HasPrefix(trimmed, "rediss://") || strings.HasPrefix(trimmed, "unix://") {
			urls = append(urls, trimmed)
			continue
		}
		urls[len(urls)-1] += "," + piece
	}
	return urls
}

// parseClusterURL reads what follows "redis+cluster://": credentials, the
// seeds separated by commas, then the options.
func parseClusterURL(scheme, rest string) (Endpoint, error) {
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	hosts := authority
	var user *url.Userinfo
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		var err error
		if user, err = parseUserinfo(authority[:i]); err != nil {
			return Endpoint{}, err
		}
		hosts = authority[i+1:]
	}
	path, query, _ := strings.Cut(tail, "?")
	if strings.Contains(tail, "#") {
		return Endpoint{}, errMalformed
	}
	if path != "" && path != "/" && path != "/0" {
		return Endpoint{}, errors.New("a cluster has only database 0: drop the path")
	}
	var addrs []string
	for h := range strings.SplitSeq(hosts, ",") {
		addr, err := checkAddr(strings.TrimSpace(h))
		if err != nil {
			return Endpoint{}, fmt.Errorf("cluster seed %d: %w", len(addrs)+1, err)
		}
		addrs = append(addrs, addr)
	}
	return clusterFrom(scheme, user, addrs, query)
}

// parseUserinfo decodes "user[:password]", percent-escapes and all.
func parseUserinfo(s string) (*url.Userinfo, error) {
	name, password, hasPassword := strings.Cut(s, ":")
	name, err := url.PathUnescape(name)
	if err != nil {
		return nil, errMalformed
	}
	if !hasPassword {
		return url.User(name), nil
	}
	if password, err = url.PathUnescape(password); err != nil {
		return nil, errMalformed
	}
	return url.UserPassword(name, password), nil
}

// parseSeedURLs reads a cluster given as one URL per seed. They must agree
// on everything but the address; options go on the first.
func parseSeedURLs(seeds []string) (Endpoint, error) {
	var (
		scheme, query string
		user          *url.Userinfo
		addrs         []string
	)
	for i, s := range seeds {
		u, err := url.Parse(s)
		if err != nil {
			return Endpoint{}, fmt.Errorf("cluster seed %d: %w", i+1, errMalformed)
		}
		if u.Scheme != "redis" && u.Scheme != "rediss" {
			return Endpoint{}, fmt.Errorf("cluster seed %d: a cluster seed is redis:// or rediss://", i+1)
		}
		if u.Path != "" && u.Path != "/" && u.Path != "/0" {
			return Endpoint{}, fmt.Errorf("cluster seed %d: a cluster has only database 0: drop the path", i+1)
		}
		if u.Opaque != "" || u.Fragment != "" {
			return Endpoint{}, fmt.Errorf("cluster seed %d: not a host URL", i+1)
		}
		addr, err := checkAddr(u.Host)
		if err != nil {
			return Endpoint{}, fmt.Errorf("cluster seed %d: %w", i+1, err)
		}
		addrs = append(addrs, addr)
		if i == 0 {
			scheme, user, query = u.Scheme, u.User, u.RawQuery
			continue
		}
		if u.Scheme != scheme || u.User.String() != user.String() {
			return Endpoint{}, fmt.Errorf("cluster seed %d: every seed needs the first one's scheme and credentials", i+1)
		}
		if u.RawQuery != "" {
			return Endpoint{}, fmt.Errorf("cluster seed %d: put options on the first seed only", i+1)
		}
	}
	return clusterFrom(scheme, user, addrs, query)
}

// clusterFrom hands the parts to go-redis's cluster URL parser, which owns
// the options, as one URL naming the first seed and the others as addr.
// The URL is built by net/url, so it parses back to exactly these parts.
func clusterFrom(scheme string, user *url.Userinfo, addrs []string, query string) (Endpoint, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return Endpoint{}, errMalformed
	}
	// go-redis takes further seeds from addr options: they are held to the
	// same rule as the seeds in the authority.
	for i, a := range q["addr"] {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return Endpoint{}, errors.New("invalid addr option: want host:port")
		}
		if q["addr"][i], err = checkAddr(a); err != nil {
			return Endpoint{}, fmt.Errorf("invalid addr option: %w", err)
		}
	}
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	u := url.URL{Scheme: scheme, User: user, Host: addrs[0], RawQuery: q.Encode()}
	o, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return Endpoint{}, quiet(err, query)
	}
	return Endpoint{Cluster: o}, nil
}

// checkAddr checks one server address, host:port, and returns it in the
// form go-redis dials; the port is 6379 when left out. Its errors do not
// quote the address: a password with an unescaped '/' or '@' ends up there.
func checkAddr(h string) (string, error) {
	if h == "" {
		return "", errors.New("empty address: want host:port")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: a bare host or a bracketed IPv6 address.
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), "6379"
	}
	if host == "" || strings.ContainsAny(host, " /?#@,[]%") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return "", errors.New("bad address: want host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", errors.New("bad port: want 1 to 65535")
	}
	return net.JoinHostPort(host, port), nil
}

// errMalformed stands for a net/url error, whose text repeats the part of
// the URL it choked on, and that may be a password.
var errMalformed = errors.New("malformed URL (percent-encode special characters in the user name and password)")

// goRedisError matches the go-redis parse errors that name an option it
// knows: the name is from go-redis's own fixed set, the value after it is
// what the URL said and may be a password.
var goRedisError = regexp.MustCompile(`^redis: invalid ([a-z_]+) (number|duration|boolean)\b`)

// optionName is what an unexpected option's name must look like to be
// repeated in an error: go-redis's options are all spelled so.
var optionName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// quiet replaces any error of go-redis's URL parsers with a fixed message
// naming only the part that is wrong. Their texts quote the path, option
// values or addresses, and with a '/', '?' or '@' left unescaped in the
// password, any of those can hold part of it (a path of
// "/TOPSECRET@host:6379" is reported as an invalid database number).
// query is the raw query of the URL, used to decide whether an unexpected
// option's name may be repeated.
func quiet(err error, query string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errMalformed
	}
	msg := err.Error()
	if m := goRedisError.FindStringSubmatch(msg); m != nil {
		if m[1] == "database" {
			return errors.New("invalid database number")
		}
		return fmt.Errorf("invalid %s value: want a %s", m[1], m[2])
	}
	switch {
	case strings.HasPrefix(msg, "redis: invalid URL path"):
		return errors.New("invalid URL path: want /<database number>")
	case strings.HasPrefix(msg, "redis: empty unix socket path"):
		return errors.New("empty unix socket path")
	case strings.HasPrefix(msg, "redis: unable to parse addr param"):
		return errors.New("invalid addr option: want host:port")
	case strings.HasPrefix(msg, "redis: unexpected option: "):
		return unexpectedOptions(strings.TrimPrefix(msg, "redis: unexpected option: "), query)
	}
	return errors.New("invalid URL")
}

// unexpectedOptions names the options go-redis did not know, so a typo is
// easy to find, but only names shaped like an option, and none at all when
// an '@' follows the '?': then the query may be the tail of a password with
// an unescaped '?', and its keys parts of that password.
func unexpectedOptions(names, query string) error {
	const msg = "unexpected option"
	if strings.Contains(query, "@") {
		return errors.New(msg + " (percent-encode special characters in the user name and password)")
	}
	var shown []string
	for n := range strings.SplitSeq(names, ", ") {
		if !optionName.MatchString(n) {
			return errors.New(msg)
		}
		shown = append(shown, n)
	}
	return errors.New(msg + ": " + strings.Join(shown, ", "))
}
