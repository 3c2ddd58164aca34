package domain_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/gen"
)

// sameAsEncodingJSON fails t unless doc encodes to json.Marshal's bytes.
func sameAsEncodingJSON(t *testing.T, what string, doc any) {
	t.Helper()
	want, wantErr := json.Marshal(doc)
	got, err := domain.MarshalJSON(doc)
	switch {
	case (err != nil) != (wantErr != nil):
		t.Fatalf("%s: error %v, encoding/json's %v", what, err, wantErr)
	case err == nil && !bytes.Equal(got, want):
		t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// TestDocumentsEncodeAsEncodingJSON holds the tier and benefits documents'
// own encoders to encoding/json's bytes: over every partner of a generated
// program (all three policy eras, fraud, cancellations, activations),
// at instants across its years and as known at points through its log,
// and over edge cases a generated log has none of.
func TestDocumentsEncodeAsEncodingJSON(t *testing.T) {
	cfg := gen.Config{Events: 20_000, Partners: 40, Seed: 7}
	book := domain.NewBook(domain.DefaultPolicy())
	err := gen.Generate(cfg, func(line []byte) error {
		if r := book.Submit(line, cfg.Clock()); r.Err != nil {
			t.Fatalf("generated line refused: %v", r.Err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start, end := cfg.WithDefaults().Start, cfg.WithDefaults().End
	docs, withActivations := 0, 0
	for _, id := range book.PartnerIDs() {
		p := book.Partner(id)
		for _, known := range []uint64{book.LastSeq() / 3, book.LastSeq() / 2, domain.AllKnown} {
			if !p.KnownAt(known) {
				continue
			}
			v := domain.Compile(book.Policy(), p, known)
			for at := start.AddDate(0, -1, 0); at.Before(end.AddDate(0, 2, 0)); at = at.AddDate(0, 0, 45) {
				tier := v.Tier(at, known)
				benefits := v.Benefits(at, known)
				if known != domain.AllKnown {
					k := at.Add(-time.Hour)
					tier.KnownAt, benefits.KnownAt = &k, &k
				}
				sameAsEncodingJSON(t, id+" tier at "+at.String(), tier)
				sameAsEncodingJSON(t, id+" benefits at "+at.String(), benefits)
				docs += 2
				if len(benefits.Activations) > 0 {
					withActivations++
				}
			}
		}
	}
	if docs < 1000 || withActivations == 0 {
		t.Fatalf("compared %d documents, %d with activations: the program did not exercise the encoders", docs, withActivations)
	}

	odd := "<a href=\"x\">&amp;</a>\\ \x00\x1f\x7f\t\n\b\f é \u2028\u2029 \xff\xfe 💳"
	at := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)
	cents := time.FixedZone("", 5*3600+30*60)
	for _, c := range []struct {
		name string
		doc  any
	}{
		{"empty tier", domain.TierDoc{}},
		{"empty benefits", domain.BenefitsDoc{}},
		{"odd strings", domain.TierDoc{PartnerID: odd, Era: &odd, Basis: &odd, EarnedBy: []string{odd, ""}, Policy: odd,
			Tier: domain.TierRank{Rank: 4, Name: odd}, Period: &domain.PeriodDoc{Kind: odd, Start: at, End: at.In(cents)}, FirstReceipt: &at}},
		{"odd benefits", domain.BenefitsDoc{PartnerID: odd, At: at.In(cents), KnownAt: &at, Sanctioned: true, Policy: odd,
			Entitled:    []domain.EntitledDoc{{BenefitID: odd, Category: odd, GrantedBy: odd, OfferID: &odd, Until: &at}, {}},
			Activations: []domain.ActivationDoc{{Seq: 1 << 63, EventID: odd, OfferID: &odd, Reasons: []string{}, Contacted: true}, {Reasons: []string{odd}}}}},
		{"extreme numbers", domain.TierDoc{KnownSeq: 1<<64 - 1, Tracks: domain.Tracks{MBS: -1 << 63, Seats: 1<<63 - 1}, Excluded: domain.Excluded{Fraud: -1}}},
		{"year past 9999", domain.TierDoc{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"year before 0", domain.BenefitsDoc{Activations: []domain.ActivationDoc{{ActivatedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}}},
		{"zone hour past 23", domain.TierDoc{At: time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))}},
		{"not a document", map[string]int{"a": 1}},
	} {
		sameAsEncodingJSON(t, c.name, c.doc)
	}
	// Each byte alone in a string, so that no other byte decides how the
	// string is written.
	for c := range 256 {
		s := "a" + string(rune(c)) + string([]byte{byte(c)}) + "b"
		sameAsEncodingJSON(t, "byte "+strconv.Itoa(c), domain.TierDoc{PartnerID: s, EarnedBy: []string{s}})
	}
}

// BenchmarkMarshalDocuments compares the documents' own encoders with
// encoding/json on a partner of 300 sales.
func BenchmarkMarshalDocuments(b *testing.B) {
	book, id := benchPartner(b, 300)
	v := domain.Compile(book.Policy(), book.Partner(id), domain.AllKnown)
	at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, doc := range []struct {
		name string
		doc  any
	}{{"tier", v.Tier(at, 1)}, {"benefits", v.Benefits(at, 1)}} {
		b.Run(doc.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				json.Marshal(doc.doc)
			}
		})
		b.Run(doc.name+"/own", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				domain.MarshalJSON(doc.doc)
			}
		})
	}
}
