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

// maxPartnerIDLen is PartnerIDRule's bound.
const maxPartnerIDLen = 64

// phonePattern is a rule checked once per contact assignment, rare enough
// for a regular expression. The rules checked on every event (partner ids
// here, extension names, eventstore's types and header names) are loops over
// bytes instead: a regular expression took 2% of ingest's and of a rebuild's
// CPU over them. TestMatchersAgreeWithTheirRules holds each loop to its
// pattern.
var phonePattern = regexp.MustCompile(`^\+?[0-9 ()-]{6,20}$`)

// ValidPartnerID reports whether id may name a partner: whether it matches
// PartnerIDRule.
func ValidPartnerID(id string) bool {
	if len(id) == 0 || len(id) > maxPartnerIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// isAlnum reports whether c is in [A-Za-z0-9].
func isAlnum(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

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

func validPhone(s string) bool { return phonePattern.MatchString(s) }

// validPeriod accepts a calendar month, YYYY-MM: the pattern
// ^[0-9]{4}-(0[1-9]|1[0-2])$.
func validPeriod(s string) bool {
	if len(s) != 7 || s[4] != '-' {
		return false
	}
	for i := range 7 {
		if i != 4 && !isDigit(s[i]) {
			return false
		}
	}
	month := int(s[5]-'0')*10 + int(s[6]-'0')
	return 1 <= month && month <= 12
}
