using Reconciler.Drivers;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

/// <summary>Which releases prune deletes: current and protected first, then the newest others up to keepReleases.</summary>
public sealed class ReleasePruningTests
{
    private static StagedRelease R(string id, int minute) => new(id, DateTimeOffset.UnixEpoch.AddMinutes(minute), null);

    public static TheoryData<string, string?, int, string[], string[]> Cases() => new()
    {
        // releases (id@minute staged), current, keep, protect, pruned
        { "r1@1 r2@2 r3@3", "r3", 2, ["r3", "r2"], ["r1"] },                  // after a forward apply: new + previous
        { "r1@1 r2@2 f1@3 f2@4", "r2", 2, ["r2", "r1"], ["f1", "f2"] },       // after rollbacks: failed releases go, not r1
        { "r1@1 r2@2 f1@3", "r2", 3, ["r2", "r1"], [] },                       // room for one more: the newest other stays
        { "r1@1 r2@2 f1@3 f2@4", "r2", 3, ["r2", "r1"], ["f1"] },
        { "r1@1 r2@2 r3@3", "r3", 1, ["r3", "r2"], ["r1"] },                   // protected are kept even beyond keep
        { "r1@1 r2@2 r3@3", null, 2, [], ["r1"] },                             // nothing protected: the newest keep
        { "r1@1 r2@2", "r2", 5, ["r2", "gone"], [] },                          // a protected id not on disk takes no slot
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Keeps_current_and_protected_then_the_newest(string releases, string? current, int keep, string[] protect, string[] pruned)
    {
        var staged = releases.Split(' ').Select(r => r.Split('@')).Select(p => R(p[0], int.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(pruned, ReleaseLayout.ReleasesToPrune(staged, current, keep, [.. protect]));
    }
}
