package projections

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mappedKB is the resident size (smaps "Rss:") of this process's mappings
// of path, in kB.
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-"): // a mapping's header line
			in = len(fields) == 6 && fields[5] == path
		case in && len(fields) == 3 && fields[0] == "Rss:":
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			total += kb
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

// touchAll reads every record of every bucket, faulting the whole tree in.
func touchAll(t *testing.T, s *Store) Digest {
	t.Helper()
	d, err := s.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReleaseMappedDropsResidentPages: the pages a fold and a full read
// touched leave the process's resident set when released, and everything
// still reads the same afterwards.
func TestReleaseMappedDropsResidentPages(t *testing.T) {
	events := benchEvents(t, 20_000)
	path := filepath.Join(t.TempDir(), "rm.db")
	s, err := Open(path, ReleaseEvery(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	foldInBatches(t, s, events, 4096)
	before := touchAll(t, s)
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	touched := mappedKB(t, path)
	if touched*1024 < int(st.FileBytes)/2 {
		t.Fatalf("a full read left %d kB of a %d-byte file resident: the check cannot see the mapping", touched, st.FileBytes)
	}
	if err := s.releaseMapped(); err != nil {
		t.Fatal(err)
	}
	if kb := mappedKB(t, path); kb > 16 {
		t.Fatalf("after release %d kB of the mapping resident (was %d)", kb, touched)
	}
	if after := touchAll(t, s); !reflect.DeepEqual(after, before) {
		t.Fatalf("digest after release %v, before %v", after, before)
	}
}

// TestReleaserRunsOnItsOwn: with the default option the store releases its
// pages without being asked, and Close stops it.
func TestReleaserRunsOnItsOwn(t *testing.T) {
	events := benchEvents(t, 5_000)
	path := filepath.Join(t.TempDir(), "rm.db")
	s, err := Open(path, ReleaseEvery(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	foldInBatches(t, s, events, 4096)
	// Touch and wait for a release: a condition, not a duration.
	touchAll(t, s)
	for mappedKB(t, path) > 16 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close() // a second Close returns (bbolt's answer aside), not waiting on a stopped releaser
}
