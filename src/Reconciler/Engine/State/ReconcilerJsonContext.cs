using System.Text.Json.Serialization;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Execution;

namespace Reconciler.State;

/// <summary>
/// Compile-time metadata for every type the product's dialect reads or writes: <see cref="ReconcilerJson"/> resolves
/// from here alone, with no reflection fallback, because the shipped build is Native AOT (reflection metadata off) and
/// because reflection metadata costs a short-lived CLI hundreds of JIT-compiled methods and emitted accessors at every
/// start (docs/benchmarks.md). The roots: what every apply and plan writes (stored values, journal details, the plan it
/// re-checks), the stores' own values, each command's --format json result, the daemon's /status. The options stay
/// <see cref="ReconcilerJson"/>'s, so the JSON is the bytes reflection metadata wrote (ReconcilerJsonTests and
/// CompileTimeJsonTests hold the two to the same bytes, and walk every type reached from here).
/// </summary>
[JsonSerializable(typeof(Plan))]
[JsonSerializable(typeof(LiveState))]
[JsonSerializable(typeof(LiveService))]
[JsonSerializable(typeof(LiveToggle))]
[JsonSerializable(typeof(JournalEntry))]
[JsonSerializable(typeof(HistoryEntry))]
[JsonSerializable(typeof(QuarantinedCommit))]
[JsonSerializable(typeof(FreezeInfo))]
[JsonSerializable(typeof(ApplyHeader))]
[JsonSerializable(typeof(SwitchDetail))]
[JsonSerializable(typeof(RollbackDecision))]
[JsonSerializable(typeof(Daemon.StatusReport))]
[JsonSerializable(typeof(ApplyHeader.StoredHeader))]
[JsonSerializable(typeof(Consul.ConsulStateStore.VersionValue))]
[JsonSerializable(typeof(Consul.ConsulStateStore.LockValue))]
[JsonSerializable(typeof(Consul.ConsulStateStore.LeaderValue))]
[JsonSerializable(typeof(UseCases.StateSnapshot))]
[JsonSerializable(typeof(LockInfo))]
[JsonSerializable(typeof(UseCases.UnlockResult))]
[JsonSerializable(typeof(IReadOnlyList<HistoryEntry>))]
[JsonSerializable(typeof(Toggles.ToggleCatalogReport))]
[JsonSerializable(typeof(Daemon.DaemonStatus))]
internal sealed partial class ReconcilerJsonContext : JsonSerializerContext;
