package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

type allow struct{ component, reason string }

// runMerge merges extracted and manual rows into events.tsv.
//
//   - manual rows replace the extracted rows of the same component at the
//     same source location (file:line); a manual row of type DROP only
//     removes them;
//   - Normal rows are kept only when listed in the allow-list (manual rows
//     are always kept);
//   - identical (component, reason, type, kind, message) rows are merged,
//     keeping the source of the newest version;
//   - the expect column of an existing events.tsv is carried over, keyed by
//     component + reason + message;
//   - rows are sorted by component, reason, message.
func runMerge(argv []string) error {
	fl := flag.NewFlagSet("merge", flag.ExitOnError)
	out := fl.String("out", "", "events.tsv to write (its expect column is preserved)")
	manual := fl.String("manual", "", "manual.tsv")
	normal := fl.String("normal", "", "allow-list of Normal reasons (component<TAB>reason<TAB>why)")
	readme := fl.String("readme", "", "README.md whose generated sections are refreshed")
	fl.Parse(argv)
	if *out == "" {
		return fmt.Errorf("merge: -out is required")
	}

	var extracted []Row
	for _, p := range fl.Args() {
		h, recs, err := readTSV(p)
		if err != nil {
			return err
		}
		for _, r := range recs {
			extracted = append(extracted, rowFrom(h, r))
		}
	}

	var manualRows []Row
	override := map[string]bool{} // component + source
	if *manual != "" {
		h, recs, err := readTSV(*manual)
		if err != nil {
			return err
		}
		for _, r := range recs {
			row := rowFrom(h, r)
			override[row.Component+"\x00"+row.Source] = true
			if row.Type != "DROP" {
				manualRows = append(manualRows, row)
			}
		}
	}

	allowed := map[allow]bool{}
	if *normal != "" {
		_, recs, err := readTSV(*normal)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if len(r) >= 2 {
				allowed[allow{r[0], r[1]}] = true
			}
		}
	}
	isAllowed := func(r Row) bool {
		return allowed[allow{r.Component, r.Reason}] || allowed[allow{r.Component, "*"}] || allowed[allow{"*", r.Reason}]
	}

	var all []Row
	for _, r := range extracted {
		if override[r.Component+"\x00"+r.Source] {
			continue
		}
		all = append(all, r)
	}
	versionReport := versionDiff(append(append([]Row{}, all...), manualRows...))

	var rows []Row
	for _, r := range all {
		if r.Type == "Normal" && !isAllowed(r) {
			continue
		}
		rows = append(rows, r)
	}
	rows = append(rows, manualRows...)

	// dedup, newest version wins
	type key struct{ c, r, t, k, m string }
	best := map[key]Row{}
	var order []key
	for _, r := range rows {
		k := key{r.Component, r.Reason, r.Type, r.Kind, r.Message}
		old, ok := best[k]
		if !ok {
			order = append(order, k)
			best[k] = r
			continue
		}
		c := cmpSource(r.Source, old.Source)
		if c > 0 || (c == 0 && (len(r.Source) < len(old.Source) || (len(r.Source) == len(old.Source) && r.Source < old.Source))) {
			best[k] = r
		}
	}

	// carry over expect
	expect := map[string]string{}
	if _, err := os.Stat(*out); err == nil {
		h, recs, err := readTSV(*out)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			r := rowFrom(h, rec)
			if r.Expect != "" {
				expect[r.Component+"\x00"+r.Reason+"\x00"+r.Message] = r.Expect
			}
		}
	}

	var final []Row
	for _, k := range order {
		r := best[k]
		r.Expect = expect[r.Component+"\x00"+r.Reason+"\x00"+r.Message]
		final = append(final, r)
	}
	sort.SliceStable(final, func(i, j int) bool {
		a, b := final[i], final[j]
		for _, p := range [][2]string{{a.Component, b.Component}, {a.Reason, b.Reason}, {a.Message, b.Message}, {a.Type, b.Type}, {a.Kind, b.Kind}, {a.Source, b.Source}} {
			if p[0] != p[1] {
				return p[0] < p[1]
			}
		}
		return false
	})

	var buf bytes.Buffer
	if err := writeRows(&buf, final, true); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}

	counts := countTable(final)
	fmt.Print(counts)
	if *readme != "" {
		if err := refreshReadme(*readme, map[string]string{"counts": counts, "versions": versionReport}); err != nil {
			return err
		}
	}
	return nil
}

var verRE = regexp.MustCompile(`@v?([0-9]+)\.([0-9]+)\.([0-9]+)`)

func version(src string) [3]int {
	m := verRE.FindStringSubmatch(src)
	var v [3]int
	if m != nil {
		for i := 0; i < 3; i++ {
			v[i], _ = strconv.Atoi(m[i+1])
		}
	}
	return v
}

func cmpSource(a, b string) int {
	va, vb := version(a), version(b)
	for i := 0; i < 3; i++ {
		if va[i] != vb[i] {
			if va[i] > vb[i] {
				return 1
			}
			return -1
		}
	}
	return 0
}

func moduleOf(src string) string {
	if i := strings.Index(src, "@"); i >= 0 {
		return src[:i]
	}
	return src
}

func countTable(rows []Row) string {
	type wn struct{ w, n int }
	m := map[string]*wn{}
	var names []string
	tot := wn{}
	for _, r := range rows {
		c := m[r.Component]
		if c == nil {
			c = &wn{}
			m[r.Component] = c
			names = append(names, r.Component)
		}
		if r.Type == "Warning" {
			c.w++
			tot.w++
		} else {
			c.n++
			tot.n++
		}
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "| component | Warning | Normal |\n|---|---:|---:|\n")
	for _, n := range names {
		fmt.Fprintf(&b, "| %s | %d | %d |\n", n, m[n].w, m[n].n)
	}
	fmt.Fprintf(&b, "| **total** (%d rows) | %d | %d |\n", tot.w+tot.n, tot.w, tot.n)
	return b.String()
}

// versionDiff compares the rows of the different versions of one module:
// reasons found in one version only, and reasons whose set of messages
// differs.
func versionDiff(rows []Row) string {
	type cr struct{ c, r string }
	byMod := map[string]map[string]map[cr]map[string]bool{} // module -> version -> (component,reason) -> messages
	for _, r := range rows {
		mod := moduleOf(r.Source)
		v := version(r.Source)
		vs := fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
		if byMod[mod] == nil {
			byMod[mod] = map[string]map[cr]map[string]bool{}
		}
		if byMod[mod][vs] == nil {
			byMod[mod][vs] = map[cr]map[string]bool{}
		}
		k := cr{r.Component, r.Reason + " (" + r.Type + ")"}
		if byMod[mod][vs][k] == nil {
			byMod[mod][vs][k] = map[string]bool{}
		}
		byMod[mod][vs][k][r.Message] = true
	}
	var b strings.Builder
	var mods []string
	for m := range byMod {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	for _, mod := range mods {
		vers := byMod[mod]
		if len(vers) != 2 {
			continue
		}
		var vs []string
		for v := range vers {
			vs = append(vs, v)
		}
		sort.Slice(vs, func(i, j int) bool { return cmpSource("@"+vs[i], "@"+vs[j]) < 0 })
		oldV, newV := vs[0], vs[1]
		old, nw := vers[oldV], vers[newV]
		list := func(a, bb map[cr]map[string]bool) []string {
			var out []string
			for k := range a {
				if _, ok := bb[k]; !ok {
					out = append(out, k.c+" "+k.r)
				}
			}
			sort.Strings(out)
			return out
		}
		fmt.Fprintf(&b, "**%s %s vs %s** (all event types, before the Normal filter)\n\n", mod, oldV, newV)
		fmt.Fprintf(&b, "- only in %s: %s\n", oldV, joinOrNone(list(old, nw)))
		fmt.Fprintf(&b, "- only in %s: %s\n", newV, joinOrNone(list(nw, old)))
		var changed []string
		for k, msgs := range nw {
			om, ok := old[k]
			if !ok {
				continue
			}
			same := len(om) == len(msgs)
			for m := range msgs {
				if !om[m] {
					same = false
				}
			}
			if !same {
				changed = append(changed, k.c+" "+k.r)
			}
		}
		sort.Strings(changed)
		fmt.Fprintf(&b, "- message formats differ: %s\n\n", joinOrNone(changed))
	}
	return b.String()
}

func joinOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// refreshReadme replaces the text between <!-- NAME:begin --> and
// <!-- NAME:end --> markers.
func refreshReadme(path string, sections map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	for name, body := range sections {
		begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
		i, j := strings.Index(s, begin), strings.Index(s, end)
		if i < 0 || j < i {
			continue
		}
		s = s[:i+len(begin)] + "\n" + body + s[j:]
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
