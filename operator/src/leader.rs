//! Leadership through a Lease (kube-lease-manager): only the holder reconciles,
//! and a replica that loses the Lease stops, so two operators never act at once.

use tokio::sync::watch;

/// Resolves once leadership is held.
pub async fn acquired(rx: &mut watch::Receiver<bool>) -> Result<(), watch::error::RecvError> {
    while !*rx.borrow_and_update() {
        rx.changed().await?;
    }
    Ok(())
}

/// Resolves when a held leadership is lost, or when the lease manager stops.
pub async fn lost(mut rx: watch::Receiver<bool>) {
    loop {
        if !*rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::timeout;

    #[tokio::test]
    async fn waits_for_leadership_then_notices_its_loss() {
        let (tx, mut rx) = watch::channel(false);
        let wait = tokio::spawn(async move {
            acquired(&mut rx).await.unwrap();
            rx
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!wait.is_finished(), "not leader yet");
        tx.send(true).unwrap();
        let rx = timeout(Duration::from_secs(5), wait)
            .await
            .unwrap()
            .unwrap();
        let loss = tokio::spawn(lost(rx));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!loss.is_finished(), "still leader");
        tx.send(false).unwrap();
        timeout(Duration::from_secs(5), loss)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_stopped_manager_counts_as_lost() {
        let (tx, rx) = watch::channel(true);
        let loss = tokio::spawn(lost(rx));
        drop(tx);
        timeout(Duration::from_secs(5), loss)
            .await
            .unwrap()
            .unwrap();
    }
}
