// Package difftest owns gicits' differential-testing toolkit: it runs the
// same stream of .its statements on two backends (or two configurations
// of one) and says where they disagree, as wazero keeps its engine-test
// toolkit in internal/testing.
//
// It owns:
//
//   - the seeded generator of random streams ([Generate]): every stream
//     is reproducible from its seed, prints as an .its script, and meets
//     the behaviours where KVM is known to differ as its [Profile] says
//     (docs/fidelity.md), failing commands included, for one ITS or, with
//     [Profile.ITSes], several (gen_itses.go);
//   - what a run leaves to compare ([Observation], [Observe]: outcomes of
//     msi and ack, and after every expect error and at the end the pending
//     LPIs and every ITS's saved tables) and one side of a comparison
//     ([Variant]);
//   - the comparison itself ([First], the first [Divergence] in stream
//     order; [Diff], a (-a +b) diff from go-cmp) and the shrinker
//     ([Shrink]) that cuts a diverging stream down to the statements that
//     still show the same divergence.
//
// It builds on package script (the language and its runner) and model,
// and is the only package outside tests that imports go-cmp (with
// internal/fidelity, its classifier, through it): script and
// the library stay free of it. It never imports a backend: variants name
// backends, and the tests that use it blank-import the ones they run
// (script's differential tests run sim against sim without its cache, and
// sim against real KVM, one-ITS and several-ITS streams; this package's
// own tests run several-ITS and GICv4 streams sim against sim). Being
// internal, only this module's tests and commands may use it.
package difftest
