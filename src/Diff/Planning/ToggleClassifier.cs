using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Schema.Model;

namespace Reconciler.Diff.Planning;

/// <summary>Toggle actions: created (new and off), on, off, removed (switched off first if it was on). Placement
/// in waves, and the requirement checks that gate it, are done by <see cref="WaveBuilder"/>.</summary>
internal static class ToggleClassifier
{
    public static List<ToggleChange> Classify(DesiredState desired, LiveState live)
    {
        var result = new List<ToggleChange>();
        foreach (var name in desired.Toggles.Keys.Union(live.Toggles.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            desired.Toggles.TryGetValue(name, out var want);
            live.Toggles.TryGetValue(name, out var have);
            var requires = want?.Requires ?? ImmutableSortedDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);
            var (action, reason) = (want, have) switch
            {
                (null, { Enabled: true }) => (ToggleAction.Removed, "toggle file deleted; switched off, then removed"),
                (null, _) => (ToggleAction.Removed, "toggle file deleted"),
                ({ Enabled: false }, null) => (ToggleAction.Created, "new toggle, off"),
                ({ Enabled: true }, null) => (ToggleAction.On, "new toggle, on"),
                ({ Enabled: true }, { Enabled: false }) => (ToggleAction.On, "switched on"),
                ({ Enabled: false }, { Enabled: true }) => (ToggleAction.Off, "switched off"),
                _ => (ToggleAction.NoOp, want!.Enabled ? "on, unchanged" : "off, unchanged"),
            };
            result.Add(new ToggleChange(name, action, have?.Enabled, want?.Enabled, requires, reason, 0));
        }
        return result;
    }
}
