package domain_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/gen"
)

// TestFingerprintGolden pins the bytes of Fingerprint, the content identity
// duplicate detection compares: an input resubmitted after a change to the
// hashing, the canonical data encoding or the normalization would no longer
// be recognized as a duplicate of what the log recorded (or a different
// input would be taken for one). Spellings of the same content share a
// fingerprint; the envelope id and source are not part of it. The recorded
// decoder must give the same bytes as the input parser.
func TestFingerprintGolden(t *testing.T) {
	const (
		offer   = `{"specversion":"1.0","id":"o-1","source":"s","type":"OfferPublished","time":"2024-01-10T00:00:00Z","data":{"offer_id":"O-1","partner_id":"P-1","publisher_id":"PUB","listing_type":"transact","storefront":"appsource"%s}}`
		saleFmt = `{"specversion":"1.0","id":"%s","source":"%s","type":"SaleBilled","time":"%s","data":{"sale_id":"%s","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":12345%s}}`
	)
	line := fmt.Sprintf
	// Spellings of one content share these.
	const (
		offerDefault = "43e7e77b951461f6173171ce426925e0"
		sale         = "8139961c05b054f289a0b0a2ad230e09"
	)
	cases := []struct {
		name, line, want string
	}{
		{"offer, default category", line(offer, ""), offerDefault},
		{"offer, explicit default category", line(offer, `,"category":"other"`), offerDefault},
		{"offer, null category", line(offer, `,"category":null`), offerDefault},
		{"offer, m365 category", line(offer, `,"category":"m365-app"`), "2effe19084d73d38ccf1f7c9e0be1fb8"},
		{"sale", line(saleFmt, "s-1", "billing", "2024-05-01T00:00:00Z", "S-1", ""), sale},
		{"sale, another offset of the same instant", line(saleFmt, "s-1", "billing", "2024-05-01T02:00:00+02:00", "S-1", ""), sale},
		{"sale, zero seats", line(saleFmt, "s-1", "billing", "2024-05-01T00:00:00Z", "S-1", `,"seats":0`), sale},
		{"sale, another id and source", line(saleFmt, "other-id", "elsewhere", "2024-05-01T00:00:00Z", "S-1", ""), sale},
		{"sale, seats", line(saleFmt, "s-1", "billing", "2024-05-01T00:00:00Z", "S-1", `,"seats":5`), "6f469400743f69d73fdd2f0c14b9e8b0"},
		{"sale, fractional seconds", line(saleFmt, "s-1", "billing", "2024-05-01T00:00:00.5Z", "S-1", ""), "dfeb306c1d4d9f745ccdfbe24233c565"},
		{"sale, escaped id", line(saleFmt, "s-1", "billing", "2024-05-01T00:00:00Z", `S-\u0031`, ""), sale},
		{"sale, extension attribute", `{"specversion":"1.0","id":"s-1","source":"billing","type":"SaleBilled","time":"2024-05-01T00:00:00Z","trace":"abc","data":{"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":12345}}`, sale},
		{"offer delisted", `{"specversion":"1.0","id":"d","source":"s","type":"OfferDelisted","time":"2024-02-01T00:00:00Z","data":{"offer_id":"O-1","reason":"end of life"}}`, "9f196f42a1c08a5f0c7564edb74c34aa"},
		{"partner enrolled", `{"specversion":"1.0","id":"e","source":"s","type":"PartnerEnrolled","time":"2024-02-01T00:00:00Z","data":{"partner_id":"P-1","name":"Contoso","account_email":"a@contoso.example"}}`, "3e9b5d8f1fb237b7f7b36dc40fd6067c"},
		{"marketing contact", `{"specversion":"1.0","id":"m","source":"s","type":"MarketingContactAssigned","time":"2024-02-01T00:00:00Z","data":{"partner_id":"P-1","email":"m@contoso.example","phone":"+1 555 0100","language":"en-US"}}`, "7eadc10cdeb4ef204d87e96d65a4249e"},
		{"fraud flag", `{"specversion":"1.0","id":"f","source":"s","type":"SaleFlaggedFraud","time":"2024-05-02T00:00:00Z","data":{"sale_id":"S-1","confidence":"confirmed"}}`, "2c0b574b36b7cf1b434af774d474995a"},
		{"fraud cleared", `{"specversion":"1.0","id":"c","source":"s","type":"SaleFraudCleared","time":"2024-05-03T00:00:00Z","data":{"sale_id":"S-1"}}`, "39a7ce661d0e1cd1a3763ed5a5f8aff6"},
		{"purchase cancelled", `{"specversion":"1.0","id":"x","source":"s","type":"PurchaseCancelled","time":"2024-05-03T00:00:00Z","data":{"sale_id":"S-1","reason":"accidental"}}`, "9a29a833e3edfa0536d6bb5a40e760e5"},
		{"metric", `{"specversion":"1.0","id":"mr","source":"s","type":"MetricReported","time":"2024-06-01T00:00:00Z","data":{"partner_id":"P-1","metric":"teams_mau","period":"2024-05","value":1500}}`, "da31d028da74790dd7c8556967db275a"},
		{"activation", `{"specversion":"1.0","id":"a","source":"s","type":"BenefitActivated","time":"2024-06-01T00:00:00Z","data":{"partner_id":"P-1","benefit_id":"B-1","offer_id":"O-1"}}`, "7a4b0fcd4555b134d5860ddfb4dbe127"},
		{"contact report", `{"specversion":"1.0","id":"r","source":"s","type":"RewardsTeamContacted","time":"2024-06-02T00:00:00Z","data":{"partner_id":"P-1","benefit_id":"B-1"}}`, "b3e83cc654d2488b7ef355840289987f"},
		{"opted out", `{"specversion":"1.0","id":"oo","source":"s","type":"EngagementOptedOut","time":"2024-06-03T00:00:00Z","data":{"partner_id":"P-1","benefit_id":"B-1"}}`, "44b1be62abdc2d460aa063c1dd253642"},
		{"opted in, same scope", `{"specversion":"1.0","id":"oi","source":"s","type":"EngagementOptedIn","time":"2024-06-03T00:00:00Z","data":{"partner_id":"P-1","benefit_id":"B-1"}}`, "0ba7aa0e13b98d497f2915223f47f719"},
		{"sanctioned", `{"specversion":"1.0","id":"ps","source":"s","type":"PartnerSanctioned","time":"2024-07-01T00:00:00Z","data":{"partner_id":"P-1","ground":"ip-violation","note":"see case 7"}}`, "606ebedcd0a405f21255082b5077b316"},
		{"reinstated", `{"specversion":"1.0","id":"pr","source":"s","type":"PartnerReinstated","time":"2024-08-01T00:00:00Z","data":{"partner_id":"P-1"}}`, "a1ddf5f8cf9607f35eca94feca526ef2"},
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := domain.ParseEnvelope([]byte(c.line), now)
			if err != nil {
				t.Fatal(err)
			}
			fp := in.Fingerprint()
			if got := hex.EncodeToString(fp[:]); got != c.want {
				t.Errorf("fingerprint %s, pinned %s", got, c.want)
			}
			rec, err := domain.ParseRecorded([]byte(c.line))
			if err != nil {
				t.Fatal(err)
			}
			if rec.Fingerprint() != fp {
				t.Errorf("recorded decoder's fingerprint %x, input parser's %x", rec.Fingerprint(), fp)
			}
		})
	}
}

// fingerprintByDefinition is the definition Fingerprint must keep: SHA-256
// over the type, a zero byte, the time in RFC 3339 with nanoseconds, a zero
// byte and json.Marshal of the data, its first 16 bytes.
func fingerprintByDefinition(in domain.Input) domain.Fingerprint {
	data, err := json.Marshal(in.Data)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256([]byte(in.Type + "\x00" + in.Time.Format(time.RFC3339Nano) + "\x00" + string(data)))
	return domain.Fingerprint(sum[:16])
}

// TestFingerprintBytes: Fingerprint (whose SaleBilled data is encoded by
// hand) gives the definition's bytes for every event of a generated
// program and for sales with strings and numbers it has none of.
func TestFingerprintBytes(t *testing.T) {
	book, err := gen.Book(gen.Config{Events: 20_000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ins []domain.Input
	for _, e := range book.Events() {
		ins = append(ins, e.Input)
	}
	at := time.Date(2024, 5, 1, 12, 30, 0, 123456789, time.UTC)
	for _, s := range []string{"", "S-1", `quote " backslash \`, "<html> & co", "é 😀", "\x00\x1f\x7f", "\xff", "\u2028"} {
		for _, n := range []int64{0, -1, 1, math.MaxInt64, math.MinInt64} {
			ins = append(ins, domain.Input{Type: domain.TypeSaleBilled, Time: at, Data: domain.SaleBilled{SaleID: s, OfferID: s + "o", CustomerID: "c" + s, AmountUSDCents: n, Seats: -n}})
		}
	}
	sales := 0
	for _, in := range ins {
		if in.Type == domain.TypeSaleBilled {
			sales++
		}
		if got, want := in.Fingerprint(), fingerprintByDefinition(in); got != want {
			t.Fatalf("%s %+v: fingerprint %x, by definition %x", in.Type, in.Data, got, want)
		}
	}
	if sales < 1000 {
		t.Fatalf("only %d sales fingerprinted", sales)
	}
}

// BenchmarkFingerprint fingerprints a sale, and the same by the definition
// (encoding/json, a formatted time, sha256.New).
func BenchmarkFingerprint(b *testing.B) {
	in := domain.Input{Type: domain.TypeSaleBilled, Time: time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC),
		Data: domain.SaleBilled{SaleID: "S-00012345", OfferID: "O-0042", CustomerID: "C-000777", AmountUSDCents: 125000, Seats: 12}}
	b.Run("Fingerprint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in.Fingerprint()
		}
	})
	b.Run("definition", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fingerprintByDefinition(in)
		}
	})
}
