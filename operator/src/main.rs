use std::io::Write;

fn main() -> anyhow::Result<()> {
    let yaml = readyroll::crd::crd_yaml()?;
    std::io::stdout().write_all(yaml.as_bytes())?;
    Ok(())
}
