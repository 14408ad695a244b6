using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Drivers;

namespace Reconciler.Live;

/// <summary>How what a host reports differs from what the store recorded for it (<see cref="DriftKind"/>). A host the
/// store records nothing for has nothing to differ from: it is the plan's business (a service not deployed yet).</summary>
public static class DriftRules
{
    /// <param name="recorded">The release the store recorded on the host (null: none).</param>
    /// <param name="found">Where `current` points and which complete releases the host holds.</param>
    /// <param name="damaged">The recorded release's directory is there but not complete (no or another marker).</param>
    public static ImmutableArray<DriftKind> Classify(string? recorded, HostReleases found, bool damaged, HostHealth health)
    {
        if (recorded is null) return [];
        // No `current` and no release at all: nothing of ours is on the host (re-imaged, or another machine at its address).
        if (found.Current is null && found.Releases.IsDefaultOrEmpty && !damaged) return [DriftKind.UnknownHost];
        var kinds = ImmutableArray.CreateBuilder<DriftKind>();
        if (found.Current is null) kinds.Add(DriftKind.MissingCurrent);
        else if (found.Current != recorded) kinds.Add(DriftKind.WrongCurrent);
        if (!found.Releases.Contains(recorded)) kinds.Add(damaged ? DriftKind.DamagedRelease : DriftKind.MissingRelease);
        if (health == HostHealth.Unhealthy) kinds.Add(DriftKind.Unhealthy);
        return kinds.ToImmutable();
    }

    /// <summary>One line for people: where `current` points when that is news, what is wrong with the release, which check failed.</summary>
    public static string? Describe(string? recorded, HostReleases found, string? damagedBecause, string? healthDetail)
    {
        var parts = new List<string>();
        if (recorded is not null && found.Current is null && found.Releases.IsDefaultOrEmpty && damagedBecause is null)
            parts.Add("no release of ours on the host (re-imaged?)");
        else
        {
            if (recorded is not null && found.Current is null) parts.Add("no current link");
            else if (recorded is not null && found.Current != recorded) parts.Add($"current points at {found.Current}, recorded {recorded}");
            if (damagedBecause is not null) parts.Add(damagedBecause);
            else if (recorded is not null && !found.Releases.Contains(recorded)) parts.Add($"release {recorded} is gone");
        }
        if (healthDetail is not null) parts.Add(healthDetail);
        return parts.Count == 0 ? null : string.Join("; ", parts);
    }
}
