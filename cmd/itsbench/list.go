package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/gicits/gicits/bench"
)

func init() {
	register(&command{
		name:    "list",
		summary: "list the benchmark workloads, their parameters and the backends",
		run:     runList,
	})
}

func runList(e *env, args []string) error {
	fs := newFlagSet(e, "list", "")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	out := e.stdout
	fmt.Fprintf(out, "workloads (itsbench run -workload NAME [parameters]; itsbench compare -a A -b B -workload NAME):\n\n")
	params := bench.Params()
	for _, w := range bench.Builtins() {
		name := w.Name
		if name == bench.DefaultWorkload {
			name += " (default)"
		}
		fmt.Fprintf(out, "%s\n    %s\n   ", name, w.Description)
		for _, p := range params {
			if w.Relevant(p.Name) {
				fmt.Fprintf(out, " -%s %s", p.Name, p.Get(&w))
			}
		}
		fmt.Fprintln(out)
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "parameters (any of them on any workload):\n")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, p := range params {
		names := "-" + p.Name
		for _, a := range p.Aliases {
			names += ", -" + a
		}
		fmt.Fprintf(tw, "  %s\t%s\n", names, p.Usage)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nbackends: %s (NAME:walk or -walk: translation cache off)\n", backendList())
	fmt.Fprintf(out, "formats: %s\n", strings.Join(formats, ", "))
	return nil
}
