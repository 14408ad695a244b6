using System.Collections.Immutable;

namespace Reconciler.Diff.Live;

// What the hosts themselves report (issue 13), next to what the store recorded and what the repo wants. Produced by the
// engine's live probe (`status`, `drift`, the daemon's drift check); read by the planner (repairs of drifted hosts),
// the status views and the daemon's status page. Pure data: no I/O here.

/// <summary>How a host differs from what the store recorded for it. A host can show several at once.</summary>
public enum DriftKind
{
    WrongCurrent,      // `current` points at another release than the recorded one (switched by hand)
    MissingCurrent,    // no `current` link at all
    MissingRelease,    // the recorded release directory is gone
    DamagedRelease,    // the release directory is there but its marker/content does not match the release id
    Unhealthy,         // the service's health checks fail on the host
    Unreachable,       // the host could not be asked (connect, auth, timeout)
    UnknownHost,       // the host answers but is not the host the store knows (a re-imaged host: no state of ours)
}

public enum HostHealth { Healthy, Unhealthy, Unreachable, NotChecked }

/// <param name="DesiredRelease">The release id the repo wants on this host (null: the service is not in the repo).</param>
/// <param name="RecordedRelease">The release id the store recorded (null: never deployed there).</param>
/// <param name="ActualRelease">The release id `current` points at on the host (null: no link, or not asked).</param>
/// <param name="Detail">One line for humans: why unreachable, which check failed, where `current` points.</param>
public sealed record ObservedHost(
    string Service,
    string Host,
    string? DesiredRelease,
    string? RecordedRelease,
    string? ActualRelease,
    HostHealth Health,
    ImmutableArray<DriftKind> Drift,
    string? Detail);

/// <summary>One live look at every host of an environment.</summary>
public sealed record ObservedState(string Environment, DateTimeOffset ObservedAt, TimeSpan Took, ImmutableArray<ObservedHost> Hosts)
{
    public IEnumerable<ObservedHost> Drifted => Hosts.Where(h => !h.Drift.IsDefaultOrEmpty);
}
