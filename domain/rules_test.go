package domain

import (
	"regexp"
	"strings"
	"testing"
)

// ruleMatchers pairs each byte-loop matcher with the pattern it stands for.
var ruleMatchers = []struct {
	name    string
	pattern string
	match   func(string) bool
}{
	{"partner id", PartnerIDRule, ValidPartnerID},
	{"period", `^[0-9]{4}-(0[1-9]|1[0-2])$`, validPeriod},
	{"extension name", `^[a-z0-9]{1,20}$`, validExtensionName},
}

// ruleCandidates is every string of up to three bytes over an alphabet with
// a byte from each side of every class boundary, periods of every month
// digit, and strings at each rule's length bounds.
func ruleCandidates() []string {
	const alphabet = "09:/@AZ[`az{_-. +\n\x00\x7f\xff"
	out := []string{""}
	for n, prev := 0, []string{""}; n < 3; n++ {
		var next []string
		for _, p := range prev {
			for i := 0; i < len(alphabet); i++ {
				next = append(next, p+alphabet[i:i+1])
			}
		}
		out, prev = append(out, next...), next
	}
	for _, m := range []string{"00", "01", "09", "10", "12", "13", "19", "20", "1a", "a1", "/1", ":1"} {
		out = append(out, "2024-"+m, "0000-"+m, "2a24-"+m, "2024_"+m, "2024-"+m+"-", "12024-"+m)
	}
	for _, n := range []int{19, 20, 21, 63, 64, 65} {
		out = append(out, strings.Repeat("a", n), strings.Repeat("Z", n-1)+"-", strings.Repeat("9", n-1)+".")
	}
	return out
}

// TestMatchersAgreeWithTheirRules holds the loops that replaced regular
// expressions on the hot path to the patterns refusals quote.
func TestMatchersAgreeWithTheirRules(t *testing.T) {
	cands := ruleCandidates()
	for _, m := range ruleMatchers {
		re := regexp.MustCompile(m.pattern)
		accepted := 0
		for _, s := range cands {
			if got, want := m.match(s), re.MatchString(s); got != want {
				t.Errorf("%s %q: matcher says %v, %s says %v", m.name, s, got, m.pattern, want)
			} else if got {
				accepted++
			}
		}
		if accepted == 0 {
			t.Errorf("%s: no candidate matches %s: the comparison shows nothing", m.name, m.pattern)
		}
	}
}

// FuzzRuleMatchers compares the matchers with their patterns on any input.
func FuzzRuleMatchers(f *testing.F) {
	for _, s := range []string{"P-1", "2024-12", "ext", "a_b", strings.Repeat("x", 64)} {
		f.Add(s)
	}
	res := make([]*regexp.Regexp, len(ruleMatchers))
	for i, m := range ruleMatchers {
		res[i] = regexp.MustCompile(m.pattern)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, m := range ruleMatchers {
			if got, want := m.match(s), res[i].MatchString(s); got != want {
				t.Errorf("%s %q: matcher says %v, %s says %v", m.name, s, got, m.pattern, want)
			}
		}
	})
}
