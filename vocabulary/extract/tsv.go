package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// esc escapes tabs and newlines so that a value fits in one TSV cell.
func esc(s string) string {
	r := strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`)
	return r.Replace(s)
}

func writeRows(w io.Writer, rows []Row, header bool) error {
	bw := bufio.NewWriter(w)
	if header {
		fmt.Fprintln(bw, strings.Join(columns, "\t"))
	}
	for _, r := range rows {
		fmt.Fprintln(bw, strings.Join(r.fields(), "\t"))
	}
	return bw.Flush()
}

// readTSV reads a tab-separated file. Lines starting with '#' and blank lines
// are skipped. If the first non-comment line starts with "component\t" it is
// treated as a header and returned separately.
func readTSV(path string) (header []string, recs [][]string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	first := true
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Split(line, "\t")
		if first && fs[0] == "component" {
			header = fs
			first = false
			continue
		}
		first = false
		recs = append(recs, fs)
	}
	return header, recs, sc.Err()
}

// rowFrom builds a Row from a record laid out per header (or per the
// canonical columns when header is nil).
func rowFrom(header, rec []string) Row {
	get := func(name string, idx int) string {
		if header != nil {
			for i, h := range header {
				if h == name {
					if i < len(rec) {
						return rec[i]
					}
					return ""
				}
			}
			return ""
		}
		if idx < len(rec) {
			return rec[idx]
		}
		return ""
	}
	return Row{
		Component: get("component", 0),
		Reason:    get("reason", 1),
		Type:      get("type", 2),
		Kind:      get("involvedKind", 3),
		Message:   get("message", 4),
		Source:    get("source", 5),
		Expect:    get("expect", 6),
	}
}
