package eventstore

import (
	"regexp"
	"strings"
	"testing"
)

// TestNamesMatchTheirRules holds ValidType and validHeaderName, loops over
// bytes, to the patterns their refusals quote: every string of up to two
// bytes from each side of every class boundary, alone and after the header
// prefix (and a near miss of it), and types at the length bound.
func TestNamesMatchTheirRules(t *testing.T) {
	const alphabet = "09:/@AZ[`az{_-. \n\x00\xff"
	short := []string{""}
	for i := 0; i < len(alphabet); i++ {
		short = append(short, alphabet[i:i+1])
		for j := 0; j < len(alphabet); j++ {
			short = append(short, alphabet[i:i+1]+alphabet[j:j+1])
		}
	}
	var cands []string
	for _, s := range short {
		cands = append(cands, s, ledgerHdrPrefix+s, "ledger-"+s, "Ledger"+s, "S"+s)
	}
	for _, n := range []int{127, 128, 129} {
		cands = append(cands, strings.Repeat("A", n), "A"+strings.Repeat("_", n-1), "9"+strings.Repeat("a", n-1))
	}
	for _, c := range []struct {
		pattern string
		match   func(string) bool
	}{{typeRule, ValidType}, {hdrNameRule, validHeaderName}} {
		re, accepted := regexp.MustCompile(c.pattern), 0
		for _, s := range cands {
			if got, want := c.match(s), re.MatchString(s); got != want {
				t.Errorf("%q: matcher says %v, %s says %v", s, got, c.pattern, want)
			} else if got {
				accepted++
			}
		}
		if accepted == 0 {
			t.Errorf("no candidate matches %s: the comparison shows nothing", c.pattern)
		}
	}
}
