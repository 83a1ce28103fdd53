package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// KeyPrefix starts every Athena API key: ath_<public_id>.<secret>.
const KeyPrefix = "ath_"

// Sizes of the generated parts.
const (
	publicIDLen = 12 // lowercase base32 characters (60 bits): unique, not secret
	secretBytes = 32 // crypto/rand bytes in the secret (256 bits)
	saltBytes   = 16
	// maxPublicIDLen bounds what Parse accepts, so a garbled header never
	// reaches the store or the negative cache as a huge string.
	maxPublicIDLen = 32
)

// lowerBase32 renders public ids: lowercase letters and digits 2-7, no
// padding, so ids are case-insensitive-safe in logs and URLs.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrMalformedKey is returned by ParseKey for anything that is not
// ath_<public_id>.<secret>.
var ErrMalformedKey = errors.New("malformed API key")

// Key is one stored API key. Salt and Hash never leave the server: they are
// not serialised.
type Key struct {
	ID          int64      `json:"id"`
	PublicID    string     `json:"public_id"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	ClientName  string     `json:"client_name,omitempty"` // "" binds to no client: valid for every client
	Salt        []byte     `json:"-"`
	Hash        []byte     `json:"-"`
	Active      bool       `json:"is_active"`
	ExpiresAt   *time.Time `json:"expires_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Rights      []string   `json:"rights"`
}

// ParsedKey is a presented key split into its parts. Secret is the decoded
// secret bytes.
type ParsedKey struct {
	PublicID string
	Secret   []byte
}

// ParseKey splits ath_<public_id>.<secret>. It checks the shape only
// (charset, lengths, base64url secret of at least 32 bytes), so garbage is
// rejected without touching the store.
func ParseKey(presented string) (ParsedKey, error) {
	rest, ok := strings.CutPrefix(presented, KeyPrefix)
	if !ok {
		return ParsedKey{}, ErrMalformedKey
	}
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || !validPublicID(id) {
		return ParsedKey{}, ErrMalformedKey
	}
	// 32 bytes encode to 43 characters; allow longer secrets, bounded.
	if len(secret) < 43 || len(secret) > 128 {
		return ParsedKey{}, ErrMalformedKey
	}
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) < secretBytes {
		return ParsedKey{}, ErrMalformedKey
	}
	return ParsedKey{PublicID: id, Secret: raw}, nil
}

// validPublicID accepts 1–32 lowercase letters and digits: every id we
// generate, and nothing that could smuggle separators or SQL into a log line.
func validPublicID(id string) bool {
	if id == "" || len(id) > maxPublicIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ValidPublicID reports whether id has the shape of a key's public id.
func ValidPublicID(id string) bool { return validPublicID(id) }

// GeneratedKey is a fresh key: Plaintext is shown to the operator once and
// never stored; Salt and Hash are what the store keeps.
type GeneratedKey struct {
	Plaintext string
	PublicID  string
	Salt      []byte
	Hash      []byte
}

// GenerateKey makes a new random key from crypto/rand.
func GenerateKey() (GeneratedKey, error) {
	var idRaw [8]byte
	secret := make([]byte, secretBytes)
	salt := make([]byte, saltBytes)
	for _, b := range [][]byte{idRaw[:], secret, salt} {
		if _, err := rand.Read(b); err != nil {
			return GeneratedKey{}, fmt.Errorf("generate key: %w", err)
		}
	}
	id := lowerBase32.EncodeToString(idRaw[:])[:publicIDLen]
	return GeneratedKey{
		Plaintext: KeyPrefix + id + "." + base64.RawURLEncoding.EncodeToString(secret),
		PublicID:  id,
		Salt:      salt,
		Hash:      HashSecret(salt, secret),
	}, nil
}

// HashSecret is SHA-256(salt || secret). A fast hash is the right tool here:
// the secret is 256 bits from crypto/rand, so there is nothing to brute
// force and no need for a deliberately slow password hash (bcrypt, argon2),
// which would put tens of milliseconds on every uncached request. The salt
// keeps equal secrets (there are none in practice) from hashing alike.
func HashSecret(salt, secret []byte) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(secret)
	return h.Sum(nil)
}

// compareFunc compares two byte strings in constant time, returning 1 when
// equal (subtle.ConstantTimeCompare's contract). Tests substitute a
// recording fake to prove every secret comparison goes through it.
type compareFunc func(a, b []byte) int

// verifySecret reports whether secret matches the stored salt and hash,
// comparing in constant time so response timing reveals nothing about how
// much of the hash matched.
func verifySecret(eq compareFunc, k Key, secret []byte) bool {
	if len(k.Salt) == 0 || len(k.Hash) != sha256.Size {
		return false
	}
	return eq(HashSecret(k.Salt, secret), k.Hash) == 1
}

var _ compareFunc = subtle.ConstantTimeCompare
