using System.CommandLine;
using Reconciler.Cli;
using Xunit;

namespace Reconciler.Cli.Tests.Cli;

/// <summary>What every command does alike: a usage error is one line and a pointer to --help, --no-color is taken
/// everywhere, --version names the commit.</summary>
public sealed class CliConventionsTests
{
    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData(new[] { "plan", "--bogus" }, "error: Unrecognized command or argument '--bogus'.", "reconciler plan")]
    [InlineData(new[] { "status" }, "error: Option '--env' is required.", "reconciler status")]
    [InlineData(new[] { "state", "lock", "--env", "prod" }, "error: Option '--reason' is required.", "reconciler state lock")]
    [InlineData(new[] { "deploy" }, "error: Unrecognized command or argument 'deploy'.", "reconciler")]
    [InlineData(new string[0], "error: Required command was not provided.", "reconciler")]
    public async Task A_usage_error_is_one_error_line_and_a_hint_to_help(string[] args, string error, string command)
    {
        var (exit, stdout, stderr) = await Run(args);
        Assert.Equal(ExitCodes.Error, exit);
        Assert.Equal("", stdout);
        Assert.Equal($"{error}\nRun '{command} --help' for usage.\n", stderr.Replace("\r\n", "\n"));
    }

    [Fact]
    public async Task Help_is_still_help()
    {
        var (exit, stdout, _) = await Run("plan", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("--split-at", stdout);
        Assert.Contains("--no-color", stdout);
    }

    [Fact]
    public void Every_command_takes_no_color()
    {
        var root = CliApp.BuildRoot();
        var commands = new List<string[]>();
        void Walk(Command c, string[] path)
        {
            foreach (var sub in c.Subcommands)
            {
                string[] here = [.. path, sub.Name];
                commands.Add(here);
                Walk(sub, here);
            }
        }
        Walk(root, []);
        Assert.True(commands.Count >= 14, string.Join(", ", commands.Select(c => string.Join(' ', c))));
        foreach (var command in commands)
        {
            var parse = root.Parse([.. command, "--no-color"]);
            Assert.DoesNotContain(parse.Errors, e => e.Message.Contains("--no-color", StringComparison.Ordinal));
            Assert.True(parse.GetValue<bool>(CliApp.NoColorOption), string.Join(' ', command));
        }
    }

    [Theory]
    [InlineData("[suggest:8]", "plan --f", "--format\n--full\n")]
    [InlineData("[suggest:14]", "plan --format ", "json\nmarkdown\ntext\n")]
    public async Task Completion_answers_the_suggest_directive_that_dotnet_suggest_calls(string directive, string line, string expected)
    {
        var (exit, stdout, _) = await Run(directive, line);
        Assert.Equal(0, exit);
        Assert.Equal(expected, stdout.Replace("\r\n", "\n"));
    }

    [Fact]
    public async Task Version_names_the_version_and_the_commit_it_was_built_from()
    {
        var (exit, stdout, _) = await Run("--version");
        Assert.Equal(0, exit);
        Assert.Matches("^reconciler [0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)? \\(commit [0-9a-f]{40}\\)\n$", stdout);
    }
}
