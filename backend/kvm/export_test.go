package kvm

// KVMMSIFunc and RouteEntryFunc expose the pure conversions of model MSIs
// and routes to KVM structures on every platform.
var (
	KVMMSIFunc     = kvmMSI
	RouteEntryFunc = kvmRoute
)
