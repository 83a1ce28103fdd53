package registry

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"

	"github.com/athena-gateway/athena/gateway"
)

// DirectURI is a database named by a request header (x-pg-uri,
// x-athena-jdbc-url, x-jdbc-url) instead of a client name.
type DirectURI struct {
	// URI is the normalised postgres:// form. It carries the password:
	// never log or return it; use Redacted.
	URI string
	// Redacted is URI with any password replaced by "xxxxx".
	Redacted string
	// ID identifies the database for caches and logs without revealing the
	// URI: an HMAC of the full URI (password included, so two callers with
	// different credentials never share a cache entry) under a key random
	// to this process.
	ID string
	// Keyless reports that the URI carries both a user and a password: the
	// caller proved database credentials, so the API-key requirement is
	// waived for the request (spec §1.1).
	Keyless bool
}

// directIDKey keys DirectURI.ID; random per process, so IDs cannot be
// used to guess passwords offline.
var directIDKey = func() (k [32]byte) {
	_, _ = rand.Read(k[:])
	return k
}()

// jdbcParams maps pgJDBC connection properties to libpq ones. Others are
// driver settings with no libpq meaning and are dropped (passed on, the
// server would reject them as unknown runtime parameters).
var jdbcParams = map[string]string{
	"user":             "user",
	"password":         "password",
	"sslmode":          "sslmode",
	"sslrootcert":      "sslrootcert",
	"sslcert":          "sslcert",
	"sslkey":           "sslkey",
	"currentschema":    "search_path",
	"applicationname":  "application_name",
	"connecttimeout":   "connect_timeout",
	"options":          "options",
	"targetservertype": "target_session_attrs",
}

// ParseDirectURI validates and normalises a direct-URI header value: only
// postgres://, postgresql:// and jdbc:postgresql:// are accepted (else 400
// invalid_client), and jdbc:postgresql://host:port/db?user=u&password=p
// becomes postgres://u:p@host:port/db. Errors never echo the value.
func ParseDirectURI(raw string) (DirectURI, error) {
	raw = strings.TrimSpace(raw)
	lower := strings.ToLower(raw)
	var u *url.URL
	var err error
	switch {
	case strings.HasPrefix(lower, "jdbc:postgresql://"):
		u, err = url.Parse("postgres://" + raw[len("jdbc:postgresql://"):])
		if err == nil {
			normaliseJDBC(u)
		}
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		u, err = url.Parse(raw)
		if err == nil {
			u.Scheme = "postgres"
		}
	default:
		return DirectURI{}, gateway.Errorf(gateway.CodeInvalidClient,
			"direct database URI must start with postgres://, postgresql:// or jdbc:postgresql://")
	}
	if err != nil || u.Host == "" || u.Opaque != "" {
		return DirectURI{}, gateway.Errorf(gateway.CodeInvalidClient, "direct database URI cannot be parsed")
	}
	d := DirectURI{URI: u.String()}
	d.Redacted = RedactURI(d.URI)
	mac := hmac.New(sha256.New, directIDKey[:])
	mac.Write([]byte(d.URI))
	d.ID = "direct:" + hex.EncodeToString(mac.Sum(nil)[:12])
	user, pass := u.User.Username(), ""
	if p, ok := u.User.Password(); ok {
		pass = p
	}
	q := u.Query()
	if user == "" {
		user = q.Get("user")
	}
	if pass == "" {
		pass = q.Get("password")
	}
	d.Keyless = user != "" && pass != ""
	return d, nil
}

// normaliseJDBC moves user and password into the userinfo and renames or
// drops the remaining properties.
func normaliseJDBC(u *url.URL) {
	in := u.Query()
	out := url.Values{}
	for k, vs := range in {
		name, ok := jdbcParams[strings.ToLower(k)]
		if !ok || len(vs) == 0 {
			continue
		}
		v := vs[len(vs)-1]
		switch name {
		case "user", "password":
			continue
		case "sslmode":
		case "target_session_attrs":
			v = map[string]string{"primary": "read-write", "master": "read-write", "secondary": "read-only"}[strings.ToLower(v)]
			if v == "" {
				continue
			}
		}
		out.Set(name, v)
	}
	if ssl := strings.ToLower(in.Get("ssl")); ssl == "true" && out.Get("sslmode") == "" {
		out.Set("sslmode", "require")
	}
	user, pass := in.Get("user"), in.Get("password")
	if u.User != nil {
		if user == "" {
			user = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && pass == "" {
			pass = p
		}
	}
	switch {
	case user != "" && pass != "":
		u.User = url.UserPassword(user, pass)
	case user != "":
		u.User = url.User(user)
	default:
		u.User = nil
	}
	u.RawQuery = out.Encode()
}

// RedactURI replaces the password of a database URI (userinfo or password
// query parameter) with "xxxxx". Unparsable input is redacted as text.
func RedactURI(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return redactText(s)
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

var (
	userinfoPassword = regexp.MustCompile(`(?i)((?:postgres(?:ql)?|jdbc:postgresql)://[^:/@\s]*:)[^@\s]*@`)
	paramPassword    = regexp.MustCompile(`(?i)(password=)[^&\s'"]*`)
)

// redactText removes passwords from free text that may quote a URI or a
// connection string (driver errors, parse errors).
func redactText(s string) string {
	s = userinfoPassword.ReplaceAllString(s, "${1}xxxxx@")
	return paramPassword.ReplaceAllString(s, "${1}xxxxx")
}
