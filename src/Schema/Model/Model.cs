using System.Collections.Immutable;

namespace Reconciler.Schema.Model;

// The typed, validated model of the infra repo. Every type is an immutable record; collections are
// immutable and sorted by name (ordinal) so that everything built from the model is deterministic.
// Field meanings are documented in docs/format.md.

/// <summary>All files of one commit (or of a working tree), before environment overrides are merged.</summary>
public sealed record RepoModel(
    string Revision,                                   // commit SHA, or "working-tree" when read from disk
    RepositorySpec Repository,
    ImmutableSortedDictionary<string, EnvironmentSpec> Environments,
    ImmutableSortedDictionary<string, ServiceDefinition> Services,
    ImmutableSortedDictionary<string, ToggleDefinition> Toggles);

/// <summary>reconciler.yaml (kind Repository).</summary>
public sealed record RepositorySpec(
    string? StateUrl,                                  // e.g. sqlite:.reconciler/state.db or consul://127.0.0.1:8500/reconciler
    Defaults Defaults,
    ImmutableArray<NotificationHook> Notifications,
    SourceLocation? Location,
    TimeSpan? ToggleRemovableAfter = null)             // toggles.removableAfter; null: DefaultToggleRemovableAfter
{
    /// <summary>How long a toggle must have been on in every environment before `reconciler toggles` calls it ready
    /// to remove, when reconciler.yaml does not say (docs/format.md).</summary>
    public static readonly TimeSpan DefaultToggleRemovableAfter = TimeSpan.FromDays(30);

    public TimeSpan ToggleRemovalAge => ToggleRemovableAfter ?? DefaultToggleRemovableAfter;

    /// <summary>selfHeal: the daemon repairs hosts that drifted from the store (issue 13; never in a frozen or locked
    /// environment). Default false: drift is reported, not repaired.</summary>
    public bool SelfHeal { get; init; }
}

public sealed record Defaults(
    int KeepReleases,
    OnFailure OnFailure,
    StrategySpec Strategy,
    HealthSpec Health);

public sealed record NotificationHook(string Url, ImmutableArray<NotificationEvent> Events);

public enum NotificationEvent { Start, Success, Failure, Rollback }

public enum OnFailure { Rollback, Halt }

/// <summary>environments/NAME.yaml (kind Environment).</summary>
public sealed record EnvironmentSpec(
    string Name,
    ImmutableArray<string> Regions,                    // rollout order; hosts without a region roll out first
    ImmutableSortedDictionary<string, HostGroup> HostGroups,
    ImmutableArray<FreezeWindow> FreezeWindows,
    OnFailure? OnFailure,
    SourceLocation? Location);

/// <summary>A host group: a static list, or (with <see cref="Catalog"/>) the instances of a Consul service, whose
/// <see cref="Hosts"/> the engine fills in at plan time (empty until then; the schema layer does no I/O).</summary>
public sealed record HostGroup(string Name, ImmutableArray<HostSpec> Hosts)
{
    public CatalogSource? Catalog { get; init; }

    /// <summary>Where the group is written (its key in environments/NAME.yaml), for messages about resolving it.</summary>
    public SourceLocation? Location { get; init; }

    /// <summary>X-Consul-Index of the catalog answer the hosts were resolved from; null for static lists and before resolving.</summary>
    public ulong? CatalogIndex { get; init; }
}

/// <summary>hostGroups.NAME.consul: the passing (or all) instances of a Consul service, optionally by tag and datacenter.
/// <see cref="KnownHosts"/> is a repo-relative known_hosts file pinning the hosts' SSH keys.</summary>
public sealed record CatalogSource(string Service, string? Tag, string? Datacenter, bool PassingOnly, string? KnownHosts);

public sealed record HostSpec(
    string Name,
    string Address,                                    // hostname or IP; validated against a strict pattern
    int Port,                                          // SSH port (default 22)
    string User,
    string? HostKey,                                   // pinned public host key "ssh-ed25519 AAAA..." or "SHA256:..." fingerprint
    string? Region,
    ImmutableSortedDictionary<string, string> Vars);   // interpolated as ${host.vars.NAME}

/// <summary>A recurring or one-off window in which apply refuses to run (unless forced).</summary>
public sealed record FreezeWindow(DateTimeOffset Start, DateTimeOffset End, string Reason);

/// <summary>services/NAME.yaml (kind Service) as written, with its per-environment overrides not yet merged.</summary>
public sealed record ServiceDefinition(
    string Name,
    ServiceSpec Base,
    ImmutableSortedDictionary<string, ServiceOverride> Overrides,
    SourceLocation? Location);

/// <summary>A per-environment override: every field optional; config keys merge, other fields replace.</summary>
public sealed record ServiceOverride(
    bool? Enabled,
    string? Version,
    ArtifactSpec? Artifact,
    string? HostGroup,
    DeploySpec? Deploy,
    StrategySpec? Strategy,
    HealthSpec? Health,
    ImmutableSortedDictionary<string, ConfigValue> Config,
    OnFailure? OnFailure);

/// <summary>A service as it should run in one environment (overrides merged).</summary>
public sealed record ServiceSpec(
    string Name,
    bool Enabled,
    string Version,                                    // semver 2.0
    ArtifactSpec Artifact,
    ImmutableArray<string> DependsOn,                  // sorted
    string HostGroup,
    DeploySpec Deploy,
    StrategySpec Strategy,
    HealthSpec Health,
    ImmutableSortedDictionary<string, ConfigValue> Config,
    OnFailure? OnFailure,
    SourceLocation? Location);

/// <summary>Where the artifact comes from: file path relative to the repo root, file:// or http(s):// URL; sha256 in hex.
/// May contain ${version}.</summary>
public sealed record ArtifactSpec(string Url, string Sha256);

public enum DriverKind { Ssh, Local, ConsulKv }

public sealed record DeploySpec(
    DriverKind Driver,
    string Path,                                       // deploy root on the host: releases/ and current live under it
    string? RestartCommand,                            // run in the new release dir after the switch
    string? StopCommand,                               // run when the service is removed
    int KeepReleases,
    LifecycleHooks? Hooks = null);                     // null: no hooks

/// <summary>Commands run on each host around its switch, e.g. to take it out of traffic and back (docs/format.md
/// "Lifecycle hooks"). Each is bounded by <see cref="Timeout"/>; a non-zero exit fails the host like a failed restart.</summary>
public sealed record LifecycleHooks(
    string? BeforeSwitch,                              // before `current` moves (after the release is staged)
    string? AfterSwitch,                               // after the switch and the restart command, before the health gate
    string? AfterGate,                                 // once the host's batch passed its health gate
    TimeSpan Timeout)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);
}

public enum StrategyKind { Rolling, Canary, BlueGreen }

public sealed record StrategySpec(StrategyKind Kind, MaxParallel MaxParallel, int CanaryHosts);

/// <summary>Batch size as a count ("2") or a percentage of the group's hosts ("25%"); always at least 1 host.</summary>
public readonly record struct MaxParallel(int Value, bool IsPercent)
{
    public int Resolve(int hostCount) =>
        hostCount <= 0 ? 0 : Math.Clamp(IsPercent ? (int)Math.Ceiling(hostCount * Value / 100.0) : Value, 1, hostCount);

    public override string ToString() => IsPercent ? $"{Value}%" : Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

public sealed record HealthSpec(
    ImmutableArray<HealthCheckSpec> Checks,
    TimeSpan Interval,
    int ConsecutivePasses,
    TimeSpan MinHealthy,                               // a host must stay healthy at least this long
    TimeSpan Deadline,                                 // the gate fails when not passed by then; must be > MinHealthy
    int? FailureThreshold = null,                      // opt-in: this many consecutive failed rounds fail the gate at once
    TimeSpan InitialDelay = default);                  // failed rounds before this count for FailureThreshold only after it

public enum HealthCheckKind { Http, Tcp, Command, Consul }

/// <summary>One check. Strings may use ${host.address}, ${host.name}, ${host.vars.X}, ${service.name}, ${release.id}.</summary>
public sealed record HealthCheckSpec(
    HealthCheckKind Kind,
    string? Url,                                       // http: full URL
    int? ExpectStatus,                                 // http: default 200
    string? Address,                                   // tcp: host (default ${host.address})
    int? Port,                                         // tcp
    string? Command,                                   // command: run on the host (over SSH for the ssh driver)
    string? ConsulService,                             // consul: service name whose checks must be passing
    TimeSpan Timeout);

/// <summary>A config value: a literal, or a reference to a secret resolved only at apply time.</summary>
public abstract record ConfigValue
{
    public sealed record Literal(string Value) : ConfigValue;

    /// <summary>"env:NAME" (environment variable of the applying process) or "consul:path/to/key".</summary>
    public sealed record Secret(string Reference) : ConfigValue;
}

/// <summary>toggles/NAME.yaml (kind Toggle).</summary>
public sealed record ToggleDefinition(
    string Name,
    string? Description,
    ImmutableSortedDictionary<string, bool> Environments,       // value per environment; absent = off
    ImmutableSortedDictionary<string, string> Requires,         // service -> semver range, e.g. ">=1.5.0"
    SourceLocation? Location);

/// <summary>Everything that should be true for one environment at one revision: the planner's input.</summary>
public sealed record DesiredState(
    string Environment,
    string Revision,
    EnvironmentSpec EnvironmentSpec,
    ImmutableSortedDictionary<string, ServiceSpec> Services,   // enabled services only
    ImmutableSortedDictionary<string, DesiredToggle> Toggles,
    RepositorySpec Repository);

public sealed record DesiredToggle(string Name, bool Enabled, ImmutableSortedDictionary<string, string> Requires);
