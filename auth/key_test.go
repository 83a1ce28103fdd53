package auth

import (
	"crypto/subtle"
	"errors"
	"strings"
	"testing"
)

func TestGenerateParseVerify(t *testing.T) {
	g, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(g.Plaintext, "ath_"+g.PublicID+".") || len(g.PublicID) != publicIDLen {
		t.Fatalf("got key %q (id %q), want ath_<12 chars>.<secret>", g.Plaintext, g.PublicID)
	}
	if len(g.Salt) != 16 || len(g.Hash) != 32 {
		t.Fatalf("got salt %d bytes, hash %d bytes; want 16 and 32", len(g.Salt), len(g.Hash))
	}
	if strings.Contains(string(g.Hash), g.Plaintext) {
		t.Fatal("hash contains the plaintext")
	}
	p, err := ParseKey(g.Plaintext)
	if err != nil {
		t.Fatalf("parse generated key: %v", err)
	}
	if p.PublicID != g.PublicID || len(p.Secret) != secretBytes {
		t.Fatalf("got id %q secret %d bytes, want %q and 32", p.PublicID, len(p.Secret), g.PublicID)
	}
	k := Key{Salt: g.Salt, Hash: g.Hash}
	if !verifySecret(subtle.ConstantTimeCompare, k, p.Secret) {
		t.Fatal("generated key does not verify")
	}
	p.Secret[0] ^= 1
	if verifySecret(subtle.ConstantTimeCompare, k, p.Secret) {
		t.Fatal("altered secret verifies")
	}
	g2, _ := GenerateKey()
	if g2.PublicID == g.PublicID || g2.Plaintext == g.Plaintext {
		t.Fatal("two generated keys are equal")
	}
}

func TestParseKeyRejects(t *testing.T) {
	g, _ := GenerateKey()
	secret := strings.SplitN(g.Plaintext, ".", 2)[1]
	tests := []string{
		"",
		"ath_",
		"ath_.",
		"ath_abc",
		"ath_abc.",
		"ath_." + secret,
		"ATH_abcdefghijkl." + secret,
		"ath_ABCDEFGHIJKL." + secret,
		"ath_abc-def." + secret,
		"ath_abc'--." + secret,
		"ath_" + strings.Repeat("a", 33) + "." + secret,
		"ath_abcdefghijkl." + secret[:20],
		"ath_abcdefghijkl." + secret + "!",
		"ath_abcdefghijkl." + strings.Repeat("A", 200),
		"Bearer " + g.Plaintext,
		"xyz_abcdefghijkl." + secret,
	}
	for _, give := range tests {
		if _, err := ParseKey(give); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("ParseKey(%q): got %v, want ErrMalformedKey", give, err)
		}
	}
}

func TestVerifySecretRejectsBadRecords(t *testing.T) {
	g, _ := GenerateKey()
	p, _ := ParseKey(g.Plaintext)
	for _, k := range []Key{{}, {Salt: g.Salt}, {Salt: g.Salt, Hash: g.Hash[:16]}, {Hash: g.Hash}} {
		if verifySecret(subtle.ConstantTimeCompare, k, p.Secret) {
			t.Errorf("record %+v verifies; want refusal", k)
		}
	}
}
