using System.Diagnostics.CodeAnalysis;
using Reconciler.Schema.Model;

namespace Reconciler.UseCases;

/// <summary>
/// What a use case returns: the facts a view needs (<see cref="Value"/>) when it did what was asked, else why not
/// (<see cref="Failure"/>). When the failure is a repo that does not validate, <see cref="InvalidRepo"/> holds its
/// diagnostics so that the view can list them before the one-line error.
/// </summary>
public sealed record UseCaseResult<T> where T : class
{
    internal UseCaseResult(T? value, Failure? failure, InvalidRepo? invalidRepo)
    {
        Value = value;
        Failure = failure;
        InvalidRepo = invalidRepo;
    }

    public T? Value { get; }

    public Failure? Failure { get; }

    public InvalidRepo? InvalidRepo { get; }

    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Failure))]
    public bool Succeeded => Failure is null;
}

public static class UseCaseResult
{
    public static UseCaseResult<T> Ok<T>(T value) where T : class => new(value, null, null);

    public static UseCaseResult<T> Failed<T>(Failure failure, InvalidRepo? invalidRepo = null) where T : class => new(null, failure, invalidRepo);

    /// <summary>The boundary of a use case: the engine throws <see cref="ReconcilerException"/> where unwinding is natural
    /// (a loader, a store, Git); here it becomes a value. Cancellation and bugs still propagate.</summary>
    internal static async Task<UseCaseResult<T>> CatchAsync<T>(Func<Task<T>> body) where T : class
    {
        try
        {
            return Ok(await body());
        }
        catch (ReconcilerException e)
        {
            return Failed<T>(e.ToFailure(), (e as InvalidRepoException)?.Repo);
        }
    }

    /// <inheritdoc cref="CatchAsync{T}"/>
    internal static UseCaseResult<T> Catch<T>(Func<T> body) where T : class
    {
        try
        {
            return Ok(body());
        }
        catch (ReconcilerException e)
        {
            return Failed<T>(e.ToFailure(), (e as InvalidRepoException)?.Repo);
        }
    }
}

/// <summary>The repo did not validate: every diagnostic, and where the files came from (<c>InfraRepo.Describe()</c>,
/// e.g. "at commit 3f2a9c1d0b7e"), for the summary line.</summary>
public sealed record InvalidRepo(IReadOnlyList<Diagnostic> Diagnostics, string Where)
{
    public int Errors => Diagnostics.Count(d => d.Severity == Severity.Error);
}

/// <summary>Thrown by <see cref="RepoLoading"/> inside a use case; its boundary returns the diagnostics with the failure.</summary>
public sealed class InvalidRepoException(InvalidRepo repo)
    : ReconcilerException(FailureKind.InvalidInput,
        $"the repo is not valid {repo.Where}; fix the errors above (`reconciler validate` lists them too).")
{
    public InvalidRepo Repo { get; } = repo;
}
