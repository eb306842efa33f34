package docs_test

import (
	"os"
	"strings"
	"testing"

	_ "github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/script"
)

// TestLanguageExamples runs every example of docs/language.md (each
// indented block with an expect statement) on the simulator: each must
// parse and pass, with at least one expectation checked, so the page
// cannot teach what the language does not do.
func TestLanguageExamples(t *testing.T) {
	b, err := os.ReadFile("language.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, block := range indentedBlocks(string(b)) {
		if !strings.Contains(block, "expect ") {
			continue
		}
		n++
		s, err := script.Parse("language.md example", []byte(block))
		if err != nil {
			t.Errorf("example %d does not parse: %v\n%s", i, err, block)
			continue
		}
		res := script.Run(s, script.Options{Backend: "sim"})
		if !res.OK() || res.Passed == 0 || res.SkipReason != "" {
			t.Errorf("example %d: %d passed, failures %v, skipped %q\n%s", i, res.Passed, res.Failures, res.SkipReason, block)
		}
	}
	if n < 2 {
		t.Errorf("docs/language.md has %d examples with expectations, want the GICv3 and the GICv4.0 ones", n)
	}
}

// indentedBlocks returns the Markdown code blocks indented by four spaces,
// unindented.
func indentedBlocks(doc string) []string {
	var blocks []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, "\n")+"\n")
			cur = nil
		}
	}
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(line, "    "):
			cur = append(cur, line[4:])
		case strings.TrimSpace(line) == "" && len(cur) > 0:
			cur = append(cur, "")
		default:
			flush()
		}
	}
	flush()
	return blocks
}
