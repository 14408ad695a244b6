namespace Reconciler;

/// <summary>
/// Why an operation did not do what was asked. A closed set: the engine returns (or throws) one of these and only the
/// CLI turns it into words for a terminal and an exit code (src/Reconciler/Cli/ExitCodes.cs). The daemon retries a
/// commit whose attempt ended in a transient kind (locked or frozen, store unavailable, stale or conflict, environment
/// fault) and settles it for the others (UseCases/ReconcileCommit.cs).
/// </summary>
public enum FailureKind
{
    /// <summary>The repo, a file, an option or a stored document is not valid; nothing was changed.</summary>
    InvalidInput,
    /// <summary>A saved plan is stale, or another writer won the compare-and-set; nothing more was changed.</summary>
    StaleOrConflict,
    /// <summary>The environment is locked by someone else (or our lock was lost), or frozen.</summary>
    LockedOrFrozen,
    /// <summary>The state store is unreachable, corrupt or refuses access.</summary>
    StoreUnavailable,
    /// <summary>A host, the network, a secret, a disk or an artifact source failed: not the commit's fault.</summary>
    EnvironmentFault,
    /// <summary>The commit's new release failed on healthy hosts; the change was rolled back and the commit quarantined.</summary>
    CommitFault,
    /// <summary>The apply stopped with hosts left as they are (onFailure: halt, or a rollback that failed).</summary>
    HostsNeedAttention,
    /// <summary>Stopped at a safe point (a signal, or pre-empted by a newer commit); the journal resumes it.</summary>
    Interrupted,
    /// <summary>The commit was quarantined by an earlier apply; it is not retried.</summary>
    AlreadyQuarantined,
}

/// <summary>A failure as a value: its kind and one paragraph that says what is wrong and what to do.</summary>
public sealed record Failure(FailureKind Kind, string Message);

/// <summary>
/// Thrown inside the engine where unwinding is the natural way out (deep in a loader, a store, a driver); use cases
/// catch it at their boundary and return it as a <see cref="Failure"/>. There is no default kind on purpose: every
/// throw says whose fault it is.
/// </summary>
public class ReconcilerException(FailureKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public FailureKind Kind { get; } = kind;

    public Failure ToFailure() => new(Kind, Message);
}
