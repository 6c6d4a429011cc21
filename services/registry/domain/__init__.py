"""一单两库 domain: the random-inspection item list and the subject and inspector directories."""
