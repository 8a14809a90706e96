package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A short study: every step balances exactly, the CSV has a row per rate,
// and the SVG is well-formed XML with a line per series.
func TestStudyWritesBalancedCSVAndSVG(t *testing.T) {
	dir := t.TempDir()
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-rates", "2000,20000,80000", "-step", "400ms", "-slow-delay", "20ms", "-out", dir}, &out, &errs)
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	f, err := os.Open(filepath.Join(dir, "loss.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || len(rows[0]) != len(csvHeader) {
		t.Fatalf("got %d rows of %d columns", len(rows), len(rows[0]))
	}
	col := func(row []string, name string) uint64 {
		for i, h := range csvHeader {
			if h == name {
				v, _ := strconv.ParseUint(row[i], 10, 64)
				return v
			}
		}
		t.Fatalf("no column %s", name)
		return 0
	}
	for _, row := range rows[1:] {
		offered := col(row, "offered")
		common := col(row, "client_dropped") + col(row, "router_buffer_dropped")
		if got := col(row, "fast_delivered") + col(row, "fast_router_dropped") + col(row, "fast_nozzle_dropped") + common; got != offered {
			t.Errorf("rate %s: fast side %d != offered %d", row[0], got, offered)
		}
		if got := col(row, "slow_delivered") + col(row, "slow_router_dropped") + common; got != offered {
			t.Errorf("rate %s: slow side %d != offered %d", row[0], got, offered)
		}
	}
	// The slow subscriber (20ms per batch of at most 100: at most ~5,000/s)
	// must lose at the router at the highest rate.
	if col(rows[3], "slow_router_dropped") == 0 {
		t.Errorf("no drops at the router for the slow subscriber at %s/s", rows[3][0])
	}

	if n := svgLines(t, filepath.Join(dir, "loss.svg")); n != 6 {
		t.Fatalf("%d series, want 6", n)
	}
}

// svgLines checks that the SVG file at path is well-formed XML and
// returns how many lines (polylines) it draws.
func svgLines(t *testing.T, path string) int {
	t.Helper()
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName  xml.Name `xml:"svg"`
		Polyline []struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal(svg, &doc); err != nil {
		t.Fatalf("svg is not well-formed: %v", err)
	}
	return len(doc.Polyline)
}

// The noisy study: a row per policy and multiple, fair first; the fair
// buffer costs the steady sources nothing while the ring costs them about
// what it costs the noisy one; the SVG has the two panels' lines.
func TestNoisyStudyWritesCSVAndSVG(t *testing.T) {
	dir := t.TempDir()
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-noisy", "-multiples", "5,20", "-rounds", "3", "-capacity", "100", "-out", dir}, &out, &errs)
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	f, err := os.Open(filepath.Join(dir, "noisy.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 {
		t.Fatalf("got %d rows, want a header and 4", len(rows))
	}
	col := func(row []string, name string) string {
		for i, h := range noisyHeader {
			if h == name {
				return row[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	for i, want := range []string{"fair", "ring", "fair", "ring"} {
		row := rows[i+1]
		if got := col(row, "policy"); got != want {
			t.Errorf("row %d: policy %s, want %s", i+1, got, want)
		}
		steadyLost := col(row, "offered_steady") != col(row, "delivered_steady")
		if want == "fair" && (steadyLost || col(row, "top_dropped_source") != "noisy") {
			t.Errorf("row %d: fair lost steady envelopes or did not name the noisy source: %v", i+1, row)
		}
		if want == "ring" && !steadyLost {
			t.Errorf("row %d: the ring lost no steady envelope: %v", i+1, row)
		}
	}
	if n := svgLines(t, filepath.Join(dir, "noisy.svg")); n != 4 {
		t.Fatalf("%d lines, want 2 per panel", n)
	}
}
