namespace EdgeSelector.Fleet.Tests;

/// <summary>Runs <c>edgesel</c> in this process and captures what it prints.</summary>
internal static class Cli
{
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = EdgeSelector.Cli.Program.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    public static (int Exit, string Out, string Err) Ok(params string[] args)
    {
        var result = Run(args);
        Assert.True(result.Exit == 0, $"edgesel {string.Join(' ', args)} exited {result.Exit}:\n{result.Out}\n{result.Err}");
        return result;
    }
}
