package main

import (
	"bytes"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
)

var updateTutorial = flag.Bool("update-tutorial", false, "rewrite the outputs shown in docs/tutorial.md and docs/json.md from real runs")

// tutorialCommand is one "$ itsbench ..." line of a console block of
// docs/tutorial.md and the output shown under it.
type tutorialCommand struct {
	line       int // 1-based line of the command in the file
	args       []string
	shown      string
	start, end int // lines [start, end) of the shown output, 0-based
}

// parseTutorial finds every ```console block and, in it, each
// "$ itsbench ARGS" line with the output lines that follow it.
func parseTutorial(lines []string) []tutorialCommand {
	var cmds []tutorialCommand
	inBlock := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case !inBlock && strings.HasPrefix(l, "```console"):
			inBlock = true
		case inBlock && strings.HasPrefix(l, "```"):
			inBlock = false
		case inBlock && strings.HasPrefix(l, "$ itsbench"):
			c := tutorialCommand{line: i + 1, args: strings.Fields(l)[2:], start: i + 1}
			j := i + 1
			for j < len(lines) && !strings.HasPrefix(lines[j], "$ ") && !strings.HasPrefix(lines[j], "```") {
				j++
			}
			c.end = j
			if c.end > c.start {
				c.shown = strings.Join(lines[c.start:c.end], "\n") + "\n"
			}
			cmds = append(cmds, c)
			i = j - 1
		}
	}
	return cmds
}

// TestTutorialOutputIsReal runs every command of docs/tutorial.md on the
// simulator, in-process, from the repository root, and fails with a diff
// when what it prints (stdout and stderr as a terminal would interleave
// them) is not what the tutorial shows. go test -run Tutorial
// -update-tutorial rewrites the shown outputs.
func TestTutorialOutputIsReal(t *testing.T) {
	checkDocOutputs(t, "docs/tutorial.md", 8)
}

// TestJSONDocOutputIsReal does for the examples of docs/json.md what
// TestTutorialOutputIsReal does for the tutorial (and -update-tutorial
// rewrites them too).
func TestJSONDocOutputIsReal(t *testing.T) {
	checkDocOutputs(t, "docs/json.md", 2)
}

// checkDocOutputs runs the commands of the ```console blocks of the
// document at path (from the repository root), at least min of them, and
// compares their output with the document's, or rewrites it with
// -update-tutorial.
func checkDocOutputs(t *testing.T, path string, min int) {
	t.Chdir("../..")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
	cmds := parseTutorial(lines)
	if len(cmds) < min {
		t.Fatalf("%s: found %d commands; it has more (is the ```console block format intact?)", path, len(cmds))
	}
	outputs := make([]string, len(cmds))
	for i, c := range cmds {
		var out bytes.Buffer
		status := run(&env{stdout: &out, stderr: &out, stdin: strings.NewReader("")}, c.args)
		got := out.String()
		if status != 0 {
			got += "(exit status " + strconv.Itoa(status) + ")\n"
		}
		outputs[i] = got
		if !*updateTutorial && got != c.shown {
			t.Errorf("%s:%d: $ itsbench %s\n%s", path, c.line, strings.Join(c.args, " "), lineDiff(c.shown, got))
		}
	}
	if *updateTutorial {
		var b strings.Builder
		prev := 0
		for i, c := range cmds {
			b.WriteString(strings.Join(lines[prev:c.start], "\n") + "\n")
			b.WriteString(outputs[i])
			prev = c.end
		}
		b.WriteString(strings.Join(lines[prev:], "\n") + "\n")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// lineDiff shows shown and got line by line: "-" lines the tutorial shows
// that the run did not print, "+" lines the run printed instead.
func lineDiff(shown, got string) string {
	a := strings.Split(strings.TrimSuffix(shown, "\n"), "\n")
	b := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	// Longest common subsequence, small inputs.
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	out.WriteString("(-tutorial +actual)\n")
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out.WriteString("  " + a[i] + "\n")
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + b[j] + "\n")
			j++
		default:
			out.WriteString("- " + a[i] + "\n")
			i++
		}
	}
	return out.String()
}
