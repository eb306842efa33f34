// Package entries holds the data of the fidelity catalogue: each known
// divergence between the simulator and Linux KVM's vITS, the kernels it
// shows on, the architecture's rule, KVM's code path and its minimal .its
// case, and how a .its file's kvm= annotations name them. It is what a
// program needs to report known differences (itsbench script -backend
// kvm), without internal/fidelity's classifiers and the differential
// toolkit they build on.
package entries
