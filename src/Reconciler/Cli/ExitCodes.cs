namespace Reconciler.Cli;

/// <summary>Process exit codes; documented in docs/cli.md. Never renumber: CI scripts depend on them. The one place
/// where the engine's failure kinds become numbers is <see cref="For"/>.</summary>
public static class ExitCodes
{
    public const int Ok = 0;                  // success; for plan --detailed-exitcode: no changes
    public const int Error = 1;               // invalid input or a usage error; nothing was changed
    public const int Changes = 2;             // plan --detailed-exitcode: the plan has changes
    public const int RolledBack = 3;          // apply failed, the change was rolled back, the commit is quarantined
    public const int Halted = 4;              // apply failed with onFailure: halt (or rollback itself failed); hosts need attention
    public const int StaleOrConflict = 5;     // saved plan is stale, or another writer won the compare-and-set
    public const int LockedOrFrozen = 6;      // environment locked by someone else, or frozen
    public const int StoreUnavailable = 7;    // state store unreachable, corrupt, or access denied
    public const int Quarantined = 8;         // the commit was already quarantined; not retried
    public const int EnvironmentFault = 9;    // the environment failed (secret, host, network, disk): what changed was rolled back, not quarantined
    public const int Interrupted = 130;       // SIGINT/SIGTERM: stopped at a safe point

    /// <summary>The exit code of an outcome: 0 for success, else the code of its failure kind.</summary>
    public static int For(FailureKind? failure) => failure switch
    {
        null => Ok,
        FailureKind.InvalidInput => Error,
        FailureKind.StaleOrConflict => StaleOrConflict,
        FailureKind.LockedOrFrozen => LockedOrFrozen,
        FailureKind.StoreUnavailable => StoreUnavailable,
        FailureKind.EnvironmentFault => EnvironmentFault,
        FailureKind.CommitFault => RolledBack,
        FailureKind.HostsNeedAttention => Halted,
        FailureKind.Interrupted => Interrupted,
        FailureKind.AlreadyQuarantined => Quarantined,
        _ => throw new ArgumentOutOfRangeException(nameof(failure), failure, "a failure kind without an exit code"),
    };
}
