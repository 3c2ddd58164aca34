package ledger_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/gen"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/benefits-ledger/ledger/internal/scenario"
	"github.com/benefits-ledger/ledger/projections"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// updateRecorded regenerates the fixture of the current schema version. It
// is only for a new schema version: the fixture of a version, once
// committed, is what that version's ledgers recorded, and never changes.
var updateRecorded = flag.Bool("update-recorded", false, "write testdata/recorded/v"+eventstore.SchemaVersion+".* from the scenarios and the generator")

// fixtureEvents is how many events the generator contributes to a fixture:
// every event type and policy era, small enough to commit.
const fixtureEvents = 1000

// storedRecord is one line of a fixture: a message as the stream stores it
// — subject, the Ledger-* headers (the only ones the read path reads) and
// the data, byte for byte.
type storedRecord struct {
	Seq     uint64            `json:"seq"`
	Subject string            `json:"subject"`
	Headers map[string]string `json:"headers"`
	Data    string            `json:"data"`
}

// record is the Record the read path builds of it.
func (s storedRecord) record() eventstore.Record {
	h := nats.Header{}
	for k, v := range s.Headers {
		h.Set(k, v)
	}
	return eventstore.NewRecord(s.Seq, s.Subject, h, []byte(s.Data), time.Unix(0, 0))
}

// fixtureDigest is what a fixture must fold to, committed next to it.
type fixtureDigest struct {
	Checkpoint uint64 `json:"checkpoint"`
	Events     uint64 `json:"events"`
	Partners   uint64 `json:"partners"`
	Digest     string `json:"digest"`
	// ReadModels is the read models' layout the digest is of
	// (projections.SchemaVersion): the events stay, the layout may change.
	ReadModels int `json:"read_models_schema"`
}

func fixturePath(version, ext string) string {
	return filepath.Join("testdata", "recorded", "v"+version+ext)
}

// recordedVersions are the schema versions with a fixture.
var recordedVersions = []string{eventstore.Schema1}

func loadFixture(tb testing.TB, version string) ([]storedRecord, fixtureDigest) {
	tb.Helper()
	raw, err := os.ReadFile(fixturePath(version, ".ndjson"))
	if err != nil {
		tb.Fatalf("fixture of schema %s: %v (regenerate only for a new version: go test -run TestRecordedFixture -update-recorded)", version, err)
	}
	var recs []storedRecord
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r storedRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatalf("fixture line %d: %v", len(recs)+1, err)
		}
		recs = append(recs, r)
	}
	var want fixtureDigest
	raw, err = os.ReadFile(fixturePath(version, ".digest.json"))
	if err == nil {
		err = json.Unmarshal(raw, &want)
	}
	if err != nil {
		tb.Fatalf("fixture digest of schema %s: %v", version, err)
	}
	if want.ReadModels != projections.SchemaVersion {
		tb.Fatalf("fixture digest of schema %s is of read-model layout %d, this build has %d: after a deliberate layout change, "+
			"put the digest the test reports in %s with read_models_schema %d", version, want.ReadModels, projections.SchemaVersion,
			fixturePath(version, ".digest.json"), projections.SchemaVersion)
	}
	return recs, want
}

// foldFixture decodes a fixture with the read path's decoder and folds it
// into a fresh read model file, as the projector does.
func foldFixture(t *testing.T, recs []storedRecord) *projections.Store {
	t.Helper()
	out, err := projections.Open(filepath.Join(t.TempDir(), "folded.db"), projections.NoSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	var b projections.Batch
	for _, s := range recs {
		e, err := ledger.DecodeRecorded(s.record())
		if err != nil {
			t.Fatalf("recorded event does not decode: %v", err)
		}
		b.Events = append(b.Events, e)
	}
	if err := out.FoldBatch(b); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecordedFixtureFolds: the events each schema version recorded fold,
// with today's decoder and fold, to the digest committed with them — through
// the decoder alone, and stored in a real stream and rebuilt from it as
// `ledger rebuild` does. A change that makes recorded history decode or fold
// differently (a tightened input rule reapplied, a changed normalization, a
// changed fact codec) fails here.
func TestRecordedFixtureFolds(t *testing.T) {
	if *updateRecorded {
		writeFixture(t, eventstore.SchemaVersion)
	}
	for _, version := range recordedVersions {
		t.Run("v"+version, func(t *testing.T) {
			recs, want := loadFixture(t, version)
			if len(recs) == 0 || recs[len(recs)-1].Seq != want.Checkpoint {
				t.Fatalf("fixture of %d records, digest at checkpoint %d", len(recs), want.Checkpoint)
			}
			check := func(how string, s *projections.Store) {
				t.Helper()
				d, err := s.Digest()
				if err != nil {
					t.Fatal(err)
				}
				st, err := s.Stats()
				if err != nil {
					t.Fatal(err)
				}
				got := fixtureDigest{Checkpoint: d.Checkpoint, Events: st.Events, Partners: st.Partners, Digest: d.Sum, ReadModels: projections.SchemaVersion}
				if got != want || st.Foreign != 0 {
					t.Errorf("%s: folded to %+v (%d foreign), committed %+v", how, got, st.Foreign, want)
				}
			}
			check("decoded", foldFixture(t, recs))

			es := storeFixture(t, recs)
			path := filepath.Join(t.TempDir(), "rebuilt.db")
			if _, err := ledger.Rebuild(context.Background(), es, path, ledger.RebuildOptions{}); err != nil {
				t.Fatal(err)
			}
			rebuilt, err := projections.Open(path, projections.ReadOnly())
			if err != nil {
				t.Fatal(err)
			}
			defer rebuilt.Close()
			check("stored and rebuilt", rebuilt)
		})
	}
}

// TestRecordedDecoderAgreesWithAcceptance: for every recorded event of the
// fixtures, the recorded-event decoder gives exactly the input that the
// input parser gave when the ledger accepted it (at its clock then), with
// the same fingerprint.
func TestRecordedDecoderAgreesWithAcceptance(t *testing.T) {
	for _, version := range recordedVersions {
		recs, _ := loadFixture(t, version)
		for _, s := range recs {
			e, err := ledger.DecodeRecorded(s.record())
			if err != nil {
				t.Fatal(err)
			}
			in, err := domain.ParseEnvelope([]byte(s.Data), e.Recorded)
			if err != nil {
				t.Fatalf("seq %d: today's input rules refuse a recorded event (fine for history, but this fixture was accepted under them): %v", s.Seq, err)
			}
			if !reflect.DeepEqual(in, e.Input) || in.Fingerprint() != e.Fingerprint() {
				t.Errorf("seq %d: recorded decoder %+v, input parser %+v", s.Seq, e.Input, in)
			}
		}
	}
}

// storeFixture stores a fixture's records, as they are, in the stream of a
// fresh embedded server.
func storeFixture(t *testing.T, recs []storedRecord) *eventstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := natsserver.Start(ctx, natsserver.Config{StoreDir: t.TempDir(), Port: -1, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	es, err := eventstore.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range recs {
		m := nats.NewMsg(s.Subject)
		for k, v := range s.Headers {
			m.Header.Set(k, v)
		}
		m.Data = []byte(s.Data)
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if ack.Sequence != s.Seq {
			t.Fatalf("record %d stored at sequence %d", s.Seq, ack.Sequence)
		}
	}
	return es
}

// writeFixture records the scenarios and a generated log with a real
// ledger (fixed clock, default policy) and writes what its stream stores,
// and the digest of its read models, as the fixture of version.
func writeFixture(t *testing.T, version string) {
	t.Helper()
	cfg := gen.Config{Events: fixtureEvents, Seed: 12}
	clock := cfg.Clock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := app.Start(ctx, app.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Policy: domain.DefaultPolicy(),
		Clock: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lines := scenario.Lines(t)
	var generated [][]byte
	if err := gen.Generate(cfg, func(line []byte) error {
		generated = append(generated, bytes.Clone(line))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, batch := range append(lines, generated) {
		if _, err := l.Writer().Submit(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	last := l.Writer().LastSeq()
	if err := l.Projector().WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = l.EventStore().Read(ctx, 1, "", func(rs []eventstore.Record) error {
		for _, r := range rs {
			line, err := json.Marshal(storedRecord{Seq: r.Seq, Subject: r.Subject, Headers: r.Header, Data: string(r.Data)})
			if err != nil {
				return err
			}
			out.Write(line)
			out.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Models().Digest()
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Models().Stats()
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := json.MarshalIndent(fixtureDigest{Checkpoint: d.Checkpoint, Events: st.Events, Partners: st.Partners, Digest: d.Sum, ReadModels: projections.SchemaVersion}, "", "  ")
	if err := os.MkdirAll(filepath.Dir(fixturePath(version, "")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fixturePath(version, ".ndjson"), out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fixturePath(version, ".digest.json"), append(digest, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote the fixture of schema %s: %d records (%d lines submitted), digest %s", version, last,
		strings.Count(string(bytes.Join(generated, []byte("\n"))), "\n")+1, d.Sum)
}
