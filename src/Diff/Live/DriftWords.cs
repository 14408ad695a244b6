using Reconciler.Diff.Planning;

namespace Reconciler.Diff.Live;

/// <summary>The one word per drift kind that every view (text, JSON, the plan's reasons, the status page) uses.</summary>
public static class DriftWords
{
    public static string Of(DriftKind kind) => kind switch
    {
        DriftKind.WrongCurrent => "wrong-current",
        DriftKind.MissingCurrent => "missing-current",
        DriftKind.MissingRelease => "missing-release",
        DriftKind.DamagedRelease => "damaged-release",
        DriftKind.Unhealthy => "unhealthy",
        DriftKind.Unreachable => "unreachable",
        DriftKind.UnknownHost => "unknown-host",
        _ => kind.ToString().ToLowerInvariant(),
    };

    public static string Of(RepairKind kind) => kind switch
    {
        RepairKind.ReSwitch => "re-switch",
        RepairKind.ReStage => "re-stage",
        _ => "restart",
    };

    public static string Of(HostHealth health) => health switch
    {
        HostHealth.Healthy => "healthy",
        HostHealth.Unhealthy => "unhealthy",
        HostHealth.Unreachable => "unreachable",
        _ => "not-checked",
    };
}
