package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// node-problem-detector monitor configuration (the fields used here).
type npdConfig struct {
	Plugin     string `json:"plugin"`
	Source     string `json:"source"`
	Conditions []struct {
		Type    string `json:"type"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"conditions"`
	Rules []struct {
		Type      string   `json:"type"`
		Condition string   `json:"condition"`
		Reason    string   `json:"reason"`
		Pattern   string   `json:"pattern"`
		Path      string   `json:"path"`
		Args      []string `json:"args"`
	} `json:"rules"`
}

// runNPD turns node-problem-detector monitor configs into rows.
//
// How NPD reports (pkg/systemlogmonitor/log_monitor.go,
// pkg/custompluginmonitor/custom_plugin_monitor.go, pkg/util/helpers.go,
// pkg/exporters/k8sexporter): the Event source.component is the config's
// "source"; the involved object is the Node.
//   - temporary rule: Warning Event, reason = rule reason, message = the
//     matched log lines (log monitors) or the plugin's output (custom).
//   - permanent rule: sets the node condition; on change a Warning Event with
//     reason = rule reason and message
//     `Node condition <type> is now: True, reason: <reason>, message: "<log>"`.
//   - custom plugin permanent rules also report the way back: a Normal Event
//     with the condition's default reason when the condition turns False.
func runNPD(argv []string) error {
	fl := flag.NewFlagSet("npd", flag.ExitOnError)
	dir := fl.String("dir", "", "node-problem-detector module directory")
	label := fl.String("label", "", "module@version for the source column")
	fl.Parse(argv)
	if *dir == "" || *label == "" {
		return fmt.Errorf("npd: -dir and -label are required")
	}
	var files []string
	err := filepath.Walk(filepath.Join(*dir, "config"), func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	var rows []Row
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var c npdConfig
		// disk-log-message-filelog.json ships with trailing commas; accept them.
		b = trailingComma.ReplaceAll(b, []byte("$1"))
		if err := json.Unmarshal(b, &c); err != nil || c.Source == "" || len(c.Rules) == 0 {
			continue // not a problem monitor config (exporters, metrics monitors)
		}
		rel, _ := filepath.Rel(*dir, p)
		src := *label + "/" + filepath.ToSlash(rel)
		for _, r := range c.Rules {
			var msg string
			switch {
			case r.Pattern != "":
				msg = "re:" + r.Pattern
			case r.Path != "":
				msg = "{{output of " + strings.TrimSpace(r.Path+" "+strings.Join(r.Args, " ")) + "}}"
			default:
				msg = "{{matched log}}"
			}
			rows = append(rows, Row{Component: c.Source, Reason: esc(r.Reason), Type: "Warning", Kind: "Node", Message: esc(msg), Source: src})
		}
		if c.Plugin == "custom" {
			for _, cond := range c.Conditions {
				permanent := false
				for _, r := range c.Rules {
					if r.Type == "permanent" && r.Condition == cond.Type {
						permanent = true
					}
				}
				if !permanent {
					continue
				}
				msg := fmt.Sprintf("Node condition %s is now: False, reason: %s, message: %q", cond.Type, cond.Reason, cond.Message)
				rows = append(rows, Row{Component: c.Source, Reason: esc(cond.Reason), Type: "Normal", Kind: "Node", Message: esc(msg), Source: src})
			}
		}
	}
	return writeRows(os.Stdout, rows, false)
}

var trailingComma = regexp.MustCompile(`,(\s*[}\]])`)
