package script

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// This file is the several-ITS part of the language: the itses setting
// (how many ITSes share the redistributors) and the its action (which ITS
// the statements after it address).

// ITSesStmt: itses N, the number of ITSes (model.Layout.ITSes).
type ITSesStmt struct {
	At
	N int
}

func (s *ITSesStmt) String() string { return fmt.Sprintf("itses %d", s.N) }

func (s *ITSesStmt) apply(c *model.Config) error {
	ensureLayout(c)
	c.Layout.ITSes = s.N
	return nil
}

// ITSStmt: its N. The statements after it address ITS N: commands go to
// its queue, register statements and table expectations to its registers
// and tables, save and restore to its tables, msi and route to its
// GITS_TRANSLATER. The redistributors and the CPU interfaces are shared.
type ITSStmt struct {
	At
	N int
}

func (s *ITSStmt) String() string { return fmt.Sprintf("its %d", s.N) }

func parseITSes(f *fields, at At) Stmt {
	t := f.positional("a number of ITSes")
	if f.err != nil {
		return nil
	}
	n, err := f.p.parseNum(f.verb, "count", t, 64)
	if err != nil || n < 1 || n > model.MaxITSes {
		f.fail(t.col, "itses: want a number of ITSes 1..%d, found %q", model.MaxITSes, t.text)
	}
	return &ITSesStmt{At: at, N: int(n)}
}

func parseITS(f *fields, at At) Stmt {
	t := f.positional("an ITS number")
	if f.err != nil {
		return nil
	}
	n, err := f.p.parseNum(f.verb, "ITS", t, 64)
	if err != nil || n >= model.MaxITSes {
		f.fail(t.col, "its: want an ITS number 0..%d, found %q", model.MaxITSes-1, t.text)
	}
	return &ITSStmt{At: at, N: int(n)}
}

// selectITS makes ITS n the one the statements address (model.ITSOf).
func (r *runner) selectITS(n int) error {
	v, err := model.ITSOf(r.machine, n)
	if err != nil {
		return err
	}
	r.b, r.layout, r.its = v, v.Layout(), n
	r.stale = true // a table expectation must save this ITS's tables
	return nil
}
