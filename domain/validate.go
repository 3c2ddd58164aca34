package domain

import (
	"regexp"
	"strings"

	"golang.org/x/text/language"
)

// Limits of DOMAIN.md §1. Amounts are integer cents; sums are int64, and
// 10^13 cents per sale leaves room for ~900,000 maximal sales before int64
// overflows.
const (
	MaxAmountCents = 10_000_000_000_000
	MaxMetricValue = 10_000_000_000_000
	MaxSeats       = 1_000_000_000
	maxIDLen       = 128
	maxTextLen     = 500
	maxEmailLen    = 254
)

// PartnerIDRule is the pattern every partner id matches, as refusals name
// it. Partner ids are tokens of stream subjects (eventstore), so dots,
// wildcards, spaces and unicode are refused.
const PartnerIDRule = `^[A-Za-z0-9_-]{1,64}$`

var (
	partnerIDPattern = regexp.MustCompile(PartnerIDRule)
	phonePattern     = regexp.MustCompile(`^\+?[0-9 ()-]{6,20}$`)
	periodPattern    = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
)

// ValidPartnerID reports whether id may name a partner: whether it matches
// PartnerIDRule.
func ValidPartnerID(id string) bool { return partnerIDPattern.MatchString(id) }

// ValidID reports whether id is printable ASCII without whitespace, 1..128
// characters: the rule for envelope ids and offer, sale, customer, publisher,
// benefit and user ids.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// validText accepts a non-empty human text without control characters.
func validText(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// validEmail is a structural check: one @, a non-empty local part, a dotted
// domain, printable ASCII. Deliverability is not the ledger's business.
func validEmail(s string) bool {
	if len(s) > maxEmailLen || !ValidID(s) {
		return false
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') {
		return false
	}
	domain := s[at+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// validLanguage accepts a well-formed BCP 47 tag.
func validLanguage(s string) bool {
	if s == "" || len(s) > 64 || strings.ContainsAny(s, " _") {
		return false
	}
	_, err := language.Parse(s)
	return err == nil
}

func validPhone(s string) bool  { return phonePattern.MatchString(s) }
func validPeriod(s string) bool { return periodPattern.MatchString(s) }
