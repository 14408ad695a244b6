using System.Text.Json.Serialization;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Execution;

namespace Reconciler.State;

/// <summary>
/// Compile-time metadata for what every apply and plan writes in the product's dialect (stored values, journal
/// details, the plan it re-checks): <see cref="ReconcilerJson"/> resolves these types here first and everything else by
/// reflection. Reflection metadata costs a short-lived CLI hundreds of JIT-compiled methods and emitted accessors at
/// every start, a visible share of a 10-host apply's CPU (docs/benchmarks.md); the generated metadata is compiled
/// ahead of time with the rest. The options stay <see cref="ReconcilerJson"/>'s, so the JSON is the same either way
/// (ReconcilerJsonTests holds the two resolvers to the same bytes). <see cref="Daemon.StatusReport"/> is here for
/// `status --format json`: with the hosts' answers, the largest document a short command writes. Since the shipped
/// build is Native AOT, this is also every type the dialect reads or writes at all (<see cref="ReconcilerJson"/> has no
/// reflection fallback): the stores' own values, the other commands' --format json results, the daemon's /status.
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
