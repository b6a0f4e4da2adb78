// Command extract derives the inventory of Kubernetes Event reasons from
// upstream source code. It uses only the Go standard library.
//
// Subcommands:
//
//	extract  scan a Go module tree for event-recorder calls and print TSV rows
//	npd      turn node-problem-detector monitor configs into TSV rows
//	merge    merge extracted + manual rows into events.tsv (dedup, sort,
//	         preserve the expect column, filter Normal events by allow-list)
//
// See ../README.md.
package main

import (
	"fmt"
	"os"
)

// Columns of events.tsv, in order.
var columns = []string{"component", "reason", "type", "involvedKind", "message", "source", "expect"}

// Row is one line of events.tsv.
type Row struct {
	Component, Reason, Type, Kind, Message, Source, Expect string
}

func (r Row) fields() []string {
	return []string{r.Component, r.Reason, r.Type, r.Kind, r.Message, r.Source, r.Expect}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: extract {extract|npd|merge} [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "extract":
		err = runExtract(os.Args[2:])
	case "npd":
		err = runNPD(os.Args[2:])
	case "merge":
		err = runMerge(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}
