package gateway

import (
	"slices"
	"strconv"
	"strings"
)

// UnknownFields is the 400 for request fields the operation does not know
// (spec §1.4, strict bodies): a misspelt "limt" must not silently return
// every row. It names the fields (sorted) and suggests, for each, the
// closest of known when one is close enough; the first suggestion is also
// the envelope's hint. Details carry field (the first), unknown_fields and
// suggestion.
func UnknownFields(code Code, unknown, known []string) *Error {
	unknown = slices.Sorted(slices.Values(unknown))
	var b strings.Builder
	if len(unknown) == 1 {
		b.WriteString("unknown field ")
	} else {
		b.WriteString("unknown fields ")
	}
	first := ""
	for i, f := range unknown {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(clip(f)))
		if s := Suggest(f, known); s != "" {
			b.WriteString(" (did you mean " + strconv.Quote(s) + "?)")
			if first == "" {
				first = s
			}
		}
	}
	msg := b.String()
	e := &Error{Code: code, Message: msg, Detail: msg, Details: map[string]any{
		"field":          unknown[0],
		"unknown_fields": unknown,
	}}
	if first != "" {
		e.Details["suggestion"] = first
		e.Hint = "did you mean " + strconv.Quote(first) + "?"
	}
	return e
}

// Suggest returns the candidate closest to name, or "" when none is close:
// names are compared without case, '_' and '-' (so "tableName" finds
// "table_name"), by optimal string alignment distance (a swap of two
// letters counts once), and a candidate is close when at most one edit in
// three letters, and never more than two, separates them. Ties go to the
// earlier candidate (decoders ask for the canonical name first).
func Suggest(name string, candidates []string) string {
	n := foldName(name)
	limit := min(2, max(1, len(n)/3))
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == name {
			continue
		}
		if d := osaDistance(n, foldName(c), bestD); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// foldName lowercases s and drops '_' and '-'.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r != '_' && r != '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// osaDistance is the optimal string alignment distance between a and b
// (insertions, deletions, substitutions and swaps of adjacent letters,
// each 1), or any value >= limit once it is at least limit: field names
// are short and the caller only wants the close ones.
func osaDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	// Three rows of the dynamic programming table: two back for swaps.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
