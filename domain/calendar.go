package domain

import "time"

// All calendar arithmetic is Go's AddDate, which normalizes: Nov 30 + 3
// months = Mar 2, Feb 29 + 1 year = Mar 1 (DOMAIN.md §1).

// Period is a half-open span of time [Start, End).
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether t lies in [Start, End).
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }

// ttmStart is the exclusive lower bound of the trailing-twelve-months window
// at t: the window holds event times in (t − 1 calendar year, t].
func ttmStart(t time.Time) time.Time { return t.AddDate(-1, 0, 0) }

// fiscalYear returns the fiscal year containing t, starting on the first day
// of startMonth (July for the program).
func fiscalYear(t time.Time, startMonth int) Period {
	y := t.Year()
	if int(t.Month()) < startMonth {
		y--
	}
	start := time.Date(y, time.Month(startMonth), 1, 0, 0, 0, 0, time.UTC)
	return Period{Start: start, End: start.AddDate(1, 0, 0)}
}

// anniversary returns the benefit period containing t for a partner whose
// first receipt was first: [first + k years, first + k+1 years). Each bound is
// computed from first directly (not by repeated addition), so a Feb 29 first
// receipt has periods from Mar 1 in common years and Feb 29 in leap years.
func anniversary(first, t time.Time) Period {
	k := t.Year() - first.Year()
	for k > 0 && first.AddDate(k, 0, 0).After(t) {
		k--
	}
	for !first.AddDate(k+1, 0, 0).After(t) {
		k++
	}
	return Period{Start: first.AddDate(k, 0, 0), End: first.AddDate(k+1, 0, 0)}
}
