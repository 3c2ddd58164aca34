package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

// TestTimeColumn: one format per column — dates only when every instant of
// the column is at midnight UTC.
func TestTimeColumn(t *testing.T) {
	midnight := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	noon := midnight.Add(12 * time.Hour)
	for _, c := range []struct {
		name string
		ts   []*time.Time
		want []string
	}{
		{"dates", []*time.Time{&midnight, nil}, []string{"2024-03-01", "-"}},
		{"a timestamp makes the column timestamps", []*time.Time{&midnight, &noon, nil}, []string{"2024-03-01T00:00:00Z", "2024-03-01T12:00:00Z", "-"}},
		{"empty", nil, nil},
	} {
		f := timeColumn(c.ts...)
		var got []string
		for _, v := range c.ts {
			got = append(got, orDash(f, v))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// TestHumanOutputs: the tier, benefits and history tables of a real
// ledger's documents, as a new user reads them (golden files under
// testdata: go test -run TestHumanOutputs -update rewrites them). The tier
// table names its basis and the track that earned the tier; UNTIL,
// ACTIVATED and PERIOD have one format each; history marks what lies after
// now as projected.
func TestHumanOutputs(t *testing.T) {
	p := startInProcess(t)
	whatIfStory(t, p)
	now := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC) // "now" for the history's projected changes
	for _, c := range []struct {
		name  string
		args  []string
		print func(w *bytes.Buffer, doc []byte) error
	}{
		{"tier-ttm", []string{"tier", "P-D", "--at", "2024-06-30"}, func(w *bytes.Buffer, d []byte) error { return printTier(w, d) }},
		{"tier-before-program", []string{"tier", "P-D", "--at", "2019-01-01"}, func(w *bytes.Buffer, d []byte) error { return printTier(w, d) }},
		{"benefits", []string{"benefits", "P-B", "--at", "2024-06-30"}, func(w *bytes.Buffer, d []byte) error { return printBenefits(w, d) }},
		{"history", []string{"history", "P-D"}, func(w *bytes.Buffer, d []byte) error { return printHistory(w, d, now) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := p.ok(append(c.args, "--json")...)
			var out bytes.Buffer
			if err := c.print(&out, []byte(strings.TrimSpace(doc))); err != nil {
				t.Fatal(err)
			}
			golden(t, "human-"+c.name+".txt", out.String())
		})
	}
}

// TestStatsFileSize: stats reports the read-model file's size on disk
// beside the bytes its pages take.
func TestStatsFileSize(t *testing.T) {
	p := startInProcess(t)
	whatIfStory(t, p)
	var d ledger.StatsDoc
	if err := json.Unmarshal([]byte(p.ok("stats", "--json")), &d); err != nil {
		t.Fatal(err)
	}
	if d.FileBytes <= 0 || d.ReadModelBytes <= 0 || d.FileBytes < d.ReadModelBytes {
		t.Errorf("file_bytes %d, read_model_bytes %d: want a file at least as large as its pages", d.FileBytes, d.ReadModelBytes)
	}
	if out := p.ok("stats"); !strings.Contains(out, "on disk") || !strings.Contains(out, "in pages") {
		t.Errorf("stats does not show the file's size and its pages:\n%s", out)
	}
}

// TestSubmitBlankLinesAgree: ledger submit and the ledger.submit RPC
// answer the same NDJSON with blank lines alike — blank lines skipped, the
// others numbered as in the input — and a resubmission's human summary
// names its duplicates.
func TestSubmitBlankLinesAgree(t *testing.T) {
	input := "\n" + string(cliOffer) + "  \r\n\n" + "{not json\n" + "\t\n" + string(cliEnrol) + "\n"

	cli := startInProcess(t)
	out, errs, code := cli.cli("admin", []byte(input), "submit", "-", "--json")
	if code != exitRejected {
		t.Fatalf("submit: exit %d, want %d (one line rejected)\n%s%s", code, exitRejected, out, errs)
	}
	viaCLI := submitResults(t, out)

	srv := startInProcess(t)
	nc, err := nats.Connect(srv.l.ClientURL(), nats.UserCredentials(app.CredsFile(srv.data, "admin")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	reply, err := rpc.NewClient(nc).Call(t.Context(), rpc.EndpointSubmit, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	viaRPC := submitResults(t, string(reply))

	if !reflect.DeepEqual(viaCLI, viaRPC) {
		t.Fatalf("the CLI and the RPC disagree on blank lines:\ncli %+v\nrpc %+v", viaCLI, viaRPC)
	}
	var lines []int
	for _, r := range viaCLI {
		lines = append(lines, r.Line)
	}
	if want := []int{2, 5, 7}; !reflect.DeepEqual(lines, want) {
		t.Errorf("results for lines %v, want %v (the non-blank lines' own numbers)", lines, want)
	}

	out, errs, code = cli.cli("admin", []byte(input), "submit", "-")
	if code != exitRejected {
		t.Fatalf("resubmit: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"accepted 0, duplicates 2, rejected 1", "line 2 (id cli-1, recorded before at sequence 1)",
		"line 7 (id cli-2, recorded before at sequence 2)"} {
		if !strings.Contains(out, want) {
			t.Errorf("resubmit summary lacks %q:\n%s", want, out)
		}
	}
}

// TestSummaryNamesFewDuplicates: the human summary names at most
// namedDuplicates duplicates and counts the rest.
func TestSummaryNamesFewDuplicates(t *testing.T) {
	var s summary
	s.byCode = map[domain.Code]int{}
	for i := range namedDuplicates + 3 {
		s.add(ledger.LineResult{Line: i + 1, ID: "e", OK: true, Duplicate: true, Seq: uint64(i + 1)})
	}
	var out bytes.Buffer
	s.print(&out)
	if n := strings.Count(out.String(), "recorded before"); n != namedDuplicates || !strings.Contains(out.String(), "and 3 more") {
		t.Errorf("%d duplicates named, want %d and 3 more:\n%s", n, namedDuplicates, out.String())
	}
}
